"""What ``streams.app.create_app`` configures beyond the agents."""

from __future__ import annotations

from canyu.settings import Settings
from streams.app import ROCKSDB_MEMORY, create_app
from streams.signals import Tables


def test_every_table_opens_rocksdb_with_bounded_memory(tmp_path):
    app = create_app(Settings(home=tmp_path, classifier="lexicon"))  # the default store: rocksdb://
    for name in Tables.__dataclass_fields__:
        options = app.tables[f"state-{name}"].data.rocksdb_options
        assert options.write_buffer_size == ROCKSDB_MEMORY["write_buffer_size"] == 8 << 20
        assert options.max_write_buffer_number == 2
        assert options.block_cache_size == ROCKSDB_MEMORY["block_cache_size"] == 16 << 20
