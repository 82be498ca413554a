"""MLflow's side: which store, and one deltaw folder (a run, a trial, a sweep) as one MLflow run.

The link between the two is ``mlflow.json`` in the deltaw folder (the store's
URI, the experiment and the MLflow run id, and how many epochs were logged), so
a resumed run, or a resumed trial, continues the MLflow run it started instead
of starting another. mlflow is imported only when something is logged: a
deltaw command that trains nothing does not pay for it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

URI_ENV = ("DELTAW_MLFLOW_URI", "MLFLOW_TRACKING_URI")
DEFAULT_URI = "sqlite:///runs/mlflow.db"
EXPERIMENT_ENV = "DELTAW_MLFLOW_EXPERIMENT"
LINK = "mlflow.json"
# deltaw's statuses (run.json, sweep.json) → MLflow's
STATUS = {
    "completed": "FINISHED",
    "stopped": "FINISHED",
    "finished": "FINISHED",
    "interrupted": "KILLED",
    "diverged": "FAILED",
    "failed": "FAILED",
}
MAX_PARAM = 6000  # MLflow's limit on a parameter's value
BATCH = 100  # MLflow takes at most 100 parameters (1000 metrics) in one log_batch


def tracking_uri() -> str:
    """``DELTAW_MLFLOW_URI``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///runs/mlflow.db``.

    A relative SQLite path is made absolute (and its folder created), so a run
    resumed from another directory still finds its store.
    """
    uri = next((os.environ[n] for n in URI_ENV if os.environ.get(n)), DEFAULT_URI)
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = Path(uri[len(prefix) :]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = prefix + str(path)
    return uri


def artifact_location(uri: str) -> str | None:
    """For a SQLite store, artifacts go beside the database file (``mlartifacts/``)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        return (Path(uri[len(prefix) :]).parent / "mlartifacts").resolve().as_uri()
    return None  # the server's or MLflow's default


def client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_id(mlflow: Any, uri: str, name: str) -> str:
    """The experiment ``DELTAW_MLFLOW_EXPERIMENT`` (else ``name``, the spec's), made if new."""
    name = os.environ.get(EXPERIMENT_ENV) or name
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(mlflow.create_experiment(name, artifact_location=artifact_location(uri)))


@dataclass
class Tracked:
    """A deltaw folder's MLflow run: what :func:`open_run` found or made."""

    mlflow: Any
    uri: str
    experiment_id: str
    run_id: str
    epochs: int = 0  # epochs logged so far
    resumed: bool = False

    def save(self, folder: Path) -> None:
        """Write the link (``mlflow.json``) into ``folder``."""
        link = {
            "tracking_uri": self.uri,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "epochs": self.epochs,
        }
        tmp = folder / f".{LINK}.tmp"
        tmp.write_text(json.dumps(link, indent=2) + "\n", encoding="utf-8")
        tmp.replace(folder / LINK)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log ``params`` the run does not have yet; one an earlier part logged stays (MLflow
        never changes a parameter: a resume with ``--set training.epochs=…`` shows in the
        ``deltaw.overrides`` tag)."""
        have = self.mlflow.get_run(self.run_id).data.params if self.resumed else {}
        from mlflow.entities import Param

        new = [Param(k, _text(v)) for k, v in params.items() if k not in have]
        for i in range(0, len(new), BATCH):
            self.mlflow.log_batch(self.run_id, params=new[i : i + BATCH])

    def log_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.mlflow.log_batch(self.run_id, tags=[RunTag(k, _text(v)) for k, v in tags.items()])

    def log_epochs(self, records: Iterable[Mapping[str, float]]) -> None:
        """Each record (a line of ``metrics.jsonl``) past the epochs already logged, at its
        epoch as the step."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics, last = [], self.epochs
        for record in records:
            epoch = int(record["epoch"])
            if epoch <= self.epochs:
                continue  # logged before the interruption: never twice
            last = max(last, epoch)
            metrics += [
                Metric(k, float(v), now, epoch)
                for k, v in record.items()
                if k != "epoch" and isinstance(v, (int, float))
            ]
        for i in range(0, len(metrics), 10 * BATCH):
            self.mlflow.log_batch(self.run_id, metrics=metrics[i : i + 10 * BATCH])
        self.epochs = last

    def log_folder(self, folder: Path, *, top_only: bool = False) -> None:
        """The folder's files as the run's artifacts (``top_only``: not its sub-folders, which
        are a sweep's trials, each with a run of its own)."""
        if not top_only:
            self.mlflow.log_artifacts(self.run_id, str(folder))
            return
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                self.mlflow.log_artifact(self.run_id, str(path))

    def end(self, status: str) -> None:
        """Mark the run with deltaw's ``status`` (completed → FINISHED, diverged → FAILED, …)."""
        self.mlflow.set_terminated(self.run_id, STATUS.get(status, "FAILED"))


def open_run(
    folder: Path, name: str, run_name: str, tags: Mapping[str, Any], parent: Tracked | None = None
) -> Tracked:
    """The MLflow run linked from ``folder`` (running again), else a new one in experiment ``name``
    (``parent``'s experiment, nested under it, for a sweep's trial)."""
    link_path = folder / LINK
    if link_path.exists():
        link = json.loads(link_path.read_text(encoding="utf-8"))
        mlflow = client(link["tracking_uri"])
        mlflow.update_run(link["run_id"], status="RUNNING")
        return Tracked(
            mlflow,
            link["tracking_uri"],
            str(link["experiment_id"]),
            link["run_id"],
            int(link.get("epochs", 0)),
            resumed=True,
        )
    uri = parent.uri if parent is not None else tracking_uri()
    mlflow = parent.mlflow if parent is not None else client(uri)
    exp = parent.experiment_id if parent is not None else experiment_id(mlflow, uri, name)
    all_tags = dict(tags)
    if parent is not None:
        all_tags["mlflow.parentRunId"] = parent.run_id  # how MLflow nests a run
    run = mlflow.create_run(exp, tags={k: _text(v) for k, v in all_tags.items()}, run_name=run_name)
    tracked = Tracked(mlflow, uri, exp, run.info.run_id)
    tracked.save(folder)
    return tracked


def linked(folder: Path) -> Tracked | None:
    """The MLflow run ``folder`` is linked to, as it is (not marked running), or None."""
    link_path = folder / LINK
    if not link_path.exists():
        return None
    link = json.loads(link_path.read_text(encoding="utf-8"))
    uri = link["tracking_uri"]
    return Tracked(client(uri), uri, str(link["experiment_id"]), link["run_id"], link["epochs"])


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_PARAM]
