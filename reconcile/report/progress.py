"""Stage progress on the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class StageProgress:
    def __init__(self, console: Console):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=console, transient=False)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StageProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def update(self, name: str, label: str, seconds: float | None) -> None:
        if seconds is None:
            self.tasks[name] = self.progress.add_task(f"{label} ({name})", total=1)
        elif name not in self.tasks:  # a step reported only when done (each county of a province run)
            self.tasks[name] = self.progress.add_task(f"{label} 完成 {seconds:.2f}s", total=1, completed=1)
        else:
            self.progress.update(self.tasks[name], completed=1, description=f"{label} ({name}) 完成 {seconds:.2f}s")
