"""wod_report: a JSON report of the run for ``wod deploy`` (and the benchmark).

Written to the file named by ``$WOD_DEPLOY_REPORT`` when the playbook ends: the recap of each
host, every task that changed something (or would, in check mode) with the file it names, the
failures, and the wall time of each role and play. Without the variable it does nothing.
"""

from __future__ import annotations

import json
import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: wod_report
    type: aggregate
    short_description: JSON report of a wod deployment
    description:
      - Writes the recap, the changed tasks, the failures and the time per role to
        $WOD_DEPLOY_REPORT at the end of the run.
    requirements:
      - enabled in deploy/ansible.cfg (callbacks_enabled)
"""

# Result keys that name what a task changed, in order of preference.
PATH_KEYS = ("dest", "path", "name")


class CallbackModule(CallbackBase):
    """Collects what the default callback shows, as data."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "wod_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.changes: list[dict[str, str]] = []
        self.failures: list[str] = []
        self.roles: dict[str, float] = {}
        self.plays: list[list[object]] = []
        self.check = False
        self.tasks: dict[str, float] = {}
        self._task: tuple[str, str, float] | None = None
        self._play: tuple[str, float] | None = None

    # ----- timing: tasks run in lockstep (linear strategy), so a task lasts until the next

    def _close_task(self) -> None:
        if self._task is not None:
            role, name, since = self._task
            took = time.monotonic() - since
            self.roles[role] = self.roles.get(role, 0.0) + took
            self.tasks[name] = self.tasks.get(name, 0.0) + took
            self._task = None

    def _close_play(self) -> None:
        self._close_task()
        if self._play is not None:
            name, since = self._play
            self.plays.append([name, round(time.monotonic() - since, 2)])
            self._play = None

    def v2_playbook_on_start(self, playbook) -> None:
        self.check = bool(context.CLIARGS.get("check"))

    def v2_playbook_on_play_start(self, play) -> None:
        self._close_play()
        self._play = (play.get_name(), time.monotonic())

    def _start(self, task) -> None:
        self._close_task()
        role = task._role.get_name() if task._role else "(play)"
        self._task = (role, f"{role} : {task.name}", time.monotonic())

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._start(task)

    # ----- results

    def _changed(self, result, item: object = None) -> None:
        data = result.result
        if not data.get("changed"):
            return
        path = next((str(data[k]) for k in PATH_KEYS if isinstance(data.get(k), str)), "")
        if not path:  # check mode leaves dest out of some results; the diff names the file
            diffs = data.get("diff")
            for diff in diffs if isinstance(diffs, list) else [diffs]:
                # before_header is the file on the host (after_header, the template's copy).
                if isinstance(diff, dict) and isinstance(diff.get("before_header"), str):
                    path = diff["before_header"]
                    break
        task = result.task
        name = task.name or task.get_name()
        if item is not None and not path:
            path = str(item)[:200]
        self.changes.append(
            {
                "host": result.host.get_name(),
                "task": name,
                "role": task._role.get_name() if task._role else "",
                "path": path,
            }
        )

    def v2_runner_on_ok(self, result) -> None:
        if not result.result.get("results"):  # a loop reports its items one by one
            self._changed(result)

    def v2_runner_item_on_ok(self, result) -> None:
        self._changed(result, result.result.get("item"))

    def _failed(self, result) -> None:
        data = result.result
        msg = str(data.get("msg") or data.get("stderr") or "failed").strip()
        self.failures.append(f"{result.host.get_name()}: {result.task.name}: {msg}")

    def v2_runner_on_failed(self, result, ignore_errors: bool = False) -> None:
        # A loop's items were reported one by one (below): not again as a whole.
        if not ignore_errors and not result.result.get("results"):
            self._failed(result)

    def v2_runner_item_on_failed(self, result) -> None:
        self._failed(result)

    def v2_runner_on_unreachable(self, result) -> None:
        msg = str(result.result.get("msg") or "unreachable")
        host = result.host.get_name()
        address = result.host.vars.get("ansible_host", host)
        self.failures.append(f"{host}: unreachable at ansible_host {address}: {msg}")

    def v2_playbook_on_stats(self, stats) -> None:
        self._close_play()
        target = os.environ.get("WOD_DEPLOY_REPORT")
        if not target:
            return
        hosts = []
        for host in sorted(stats.processed):
            s = stats.summarize(host)
            hosts.append(
                {
                    "host": host,
                    "ok": s["ok"],
                    "changed": s["changed"],
                    "failed": s["failures"],
                    "unreachable": s["unreachable"],
                    "skipped": s["skipped"],
                }
            )
        report = {
            "hosts": hosts,
            "changes": self.changes,
            "failures": self.failures,
            "roles": {k: round(v, 2) for k, v in self.roles.items()},
            "slowest": sorted(
                ([k, round(v, 2)] for k, v in self.tasks.items()), key=lambda kv: -kv[1]
            )[:15],
            "plays": self.plays,
            "elapsed": round(time.monotonic() - self.started, 2),
            "check": self.check,
        }
        with open(target, "w") as handle:  # noqa: PTH123 - no pathlib needed here
            json.dump(report, handle, indent=1)
