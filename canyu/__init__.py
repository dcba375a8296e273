"""canyu (参与): the shared contract of the social listening pipeline."""

__version__ = "0.1.0"
