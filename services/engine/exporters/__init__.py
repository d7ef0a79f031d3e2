"""Exporters: the engine's committed records, in order and at least once, to the documents store and Redis.

- `records.py`    reading the committed log (its own SQLite connection, on a thread), the log id
- `projection.py` records → engine views (pure): instances, elements, variables, jobs, incidents, timers,
                  message subscriptions, process definitions
- `live.py`       records → live events (pure) and the Redis target (stream + position, one Lua script)
- `documents.py`  the documents-store target around the projection
- `runner.py`     the loop every exporter runs: read, prepare, write, advance; back-off; never skip
- `service.py`    the configured exporters of one data dir on one event loop
- `host.py`       the engine's side: the exporter process, log compaction, /metrics
- `__main__.py`   `python -m services.engine.exporters` (what the engine starts, or by hand)

Enable them on the engine with `--exporter documents=URL` / `--exporter redis=URL` or EXPORTER_DOCUMENTS_URL /
EXPORTER_REDIS_URL. Without them, no exporter runs and the log keeps only its last ENGINE_LOG_RETENTION records.
"""
