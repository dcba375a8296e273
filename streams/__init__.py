"""Stream processors (Faust): enrich ``posts.raw`` into ``posts.enriched``."""
