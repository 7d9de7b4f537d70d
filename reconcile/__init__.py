"""reconcile — 扶贫/防返贫监测数据“四个一致”比对引擎."""

__version__ = "0.1.0"


def run(config, output=None):
    """Run the whole pipeline; `config` is a path to reconcile.yaml or a loaded Config. Returns a RunResult."""
    from pathlib import Path

    from .config import Config, load_config
    from .pipeline import run as run_pipeline

    if not isinstance(config, Config):
        config = load_config(Path(config))
    return run_pipeline(config, output=Path(output) if output else None)
