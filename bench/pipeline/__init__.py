"""End to end on the real local stack: posts/s from publish to searchable, latency, state and recovery.

    canyu stack up                # with the same CANYU_* environment as the bench
    .venv-runtime/bin/python -m bench.pipeline [--posts 20000] [--state-posts 100000] [--latency-s 30] [--json PATH]
    .venv-runtime/bin/python -m bench.pipeline --skip scaling,recovery                  # sections to leave out
    .venv-runtime/bin/python -m bench.pipeline --cold --skip signals,state,recovery,scaling  # right after stack up
    # a quick look:
    .venv-runtime/bin/python -m bench.pipeline --posts 500 --state-posts 2000 --latency-s 10 --warm-up-posts 100

It runs in an install like a user's: ``.venv-runtime`` (``make .venv-runtime/bin/.installed``) has
canyu with its runtime dependencies only, as ``pip install canyu`` makes it, and psutil (the
``bench`` extra); the workers and sinks it starts run on the same interpreter. The test
environment has more (scikit-learn, which brings threadpoolctl, hid a missing thread limit there:
issue 25).

One module per section, each with its docstring (the names are those ``--skip`` takes), all in
one run, against the Kafka and Elasticsearch of the settings (``CANYU_*``, ``canyu.toml``), with
the configured classifier:

- ``classifier`` (``baseline``): the classifier alone, as the worker runs it;
- ``signals`` (``stateful``): the stateful step alone;
- ``e2e`` (``end_to_end``): one worker and one sink in a fresh namespace, after warm-up rounds
  (``warm_up``) or, with ``--cold``, from the first publish to the just-started processes;
- ``changelog``, ``latency``, ``state`` (the worker's RSS as the tables grow) and ``recovery``
  (after SIGKILL), on the same pipeline, in turn;
- ``scaling``: one worker against two on 4 partitions.

``namespace`` starts, stops and deletes a pipeline; ``processes`` reads CPU, waits for a core and
memory with psutil; ``report`` prints the figures, and ``run`` is the command line.

"Searchable" counts what a search returns: the bench never forces a refresh. The machine may be
shared, and the workers, the sink, Kafka, Elasticsearch and this process share its cores: read
the ratios to the classifier alone, measured in the same run, as well as the absolute numbers.
Posts come from ``bench.corpus``. Not a test: it asserts nothing. It stops what it started and
deletes its namespaces' topics, indices and templates at the end, also on Ctrl-C or an error.
"""
