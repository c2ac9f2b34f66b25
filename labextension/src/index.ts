/**
 * The seats' JupyterLab extension of wod: the time left (by the server's clock) in the status
 * bar and a Workshop panel with Extend, End now and the progress toward the badge; reminders
 * 15 and 5 minutes before the end; the portal's "Time's up" page once the seat has ended.
 *
 * It talks only to its own server (`<base>/wod/…`, the seat's server extension `wod_lab`),
 * which calls the wod api with the seat's lab token. Every word it shows comes from the api
 * (`texts`, in the registration's language).
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

interface IProgress {
  done: number;
  total: number;
  percent: number;
}

interface IStatus {
  now: string;
  status: string;
  workshop: string;
  workshop_name: string;
  ends_at: string | null;
  seconds_left: number;
  can_extend: boolean;
  extend_by_minutes: number;
  badge_min_completion: number;
  timesup_url: string | null;
  language: string;
  texts: Record<string, string>;
  progress: IProgress;
}

const PANEL_ID = 'wod-lab-panel';
const REMINDERS = [15, 5];
const POLL_MS = 30000;
const POLL_LATE_MS = 5000;
/** Failed calls in a row after which the server is taken as gone (the seat ended). */
const GONE_AFTER = 3;
const NARROW = '(max-width: 600px)';

/** `text` with its `%(name)s` placeholders filled and `%%` as `%` (gettext's forms). */
function fill(text: string, values: Record<string, string | number> = {}): string {
  return text
    .replace(/%\((\w+)\)s/g, (_, key: string) => String(values[key] ?? ''))
    .replace(/%%/g, '%');
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${h}:${pad(m)}:${pad(s % 60)}`;
}

async function call(path: string, method = 'GET'): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'wod', path);
  return ServerConnection.makeRequest(url, { method }, settings);
}

/** The seat's status as the server last told it, and the clock's offset to the server's. */
class Seat {
  status: IStatus | null = null;
  offsetMs = 0;
  failures = 0;
  listeners: Array<() => void> = [];
  timesUpUrl: string | null = null;

  text(key: string, values: Record<string, string | number> = {}): string {
    return fill(this.status?.texts[key] ?? key, values);
  }

  secondsLeft(): number {
    if (!this.status?.ends_at) {
      return 0;
    }
    const now = Date.now() + this.offsetMs;
    return Math.max(0, (Date.parse(this.status.ends_at) - now) / 1000);
  }

  /** Apply an answer of the server extension; false when the seat is no wod seat. */
  async take(response: Response): Promise<boolean> {
    if (response.status === 404) {
      return false;
    }
    if (response.status === 410) {
      this.timesUp();
      return true;
    }
    if (!response.ok) {
      this.failed();
      return true;
    }
    const status = (await response.json()) as IStatus;
    this.failures = 0;
    this.offsetMs = Date.parse(status.now) - Date.now();
    this.status = status;
    this.timesUpUrl = status.timesup_url ?? this.timesUpUrl;
    if (status.status !== 'active') {
      this.timesUp();
    }
    this.changed();
    return true;
  }

  async refresh(): Promise<boolean> {
    try {
      return await this.take(await call('status'));
    } catch (error) {
      this.failed();
      return true;
    }
  }

  async refreshProgress(): Promise<void> {
    try {
      const response = await call('progress');
      if (response.ok && this.status) {
        this.status = { ...this.status, progress: (await response.json()) as IProgress };
        this.changed();
      }
    } catch (error) {
      // the next status call says more
    }
  }

  async act(action: 'extend' | 'end'): Promise<void> {
    const response = await call(action, 'POST');
    if (response.status === 409) {
      const problem = (await response.json()) as { detail?: string };
      Notification.error(problem.detail ?? action);
      await this.refresh();
      return;
    }
    await this.take(response);
  }

  failed(): void {
    this.failures += 1;
    if (this.failures >= GONE_AFTER && this.timesUpUrl) {
      this.timesUp();
    } else if (this.status) {
      this.changed();
    }
  }

  timesUp(): void {
    if (this.timesUpUrl) {
      window.location.assign(this.timesUpUrl);
    }
  }

  changed(): void {
    this.listeners.forEach(listener => listener());
  }
}

class TimeItem extends Widget {
  constructor(
    private seat: Seat,
    onClick: () => void,
    id = 'wod-lab-status'
  ) {
    super();
    this.addClass('wod-lab-status');
    this.node.id = id;
    this.id = id;
    this.node.title = '';
    this.node.addEventListener('click', onClick);
  }

  render(): void {
    const left = this.seat.secondsLeft();
    this.node.textContent = this.seat.status
      ? this.seat.text('time_left_short', { time: clock(left) })
      : '';
    this.node.title = this.seat.text('time_left');
    this.toggleClass('wod-lab-soon', left < 15 * 60);
  }
}

class Panel extends Widget {
  private left = document.createElement('p');
  private ends = document.createElement('p');
  private bar = document.createElement('progress');
  private cells = document.createElement('p');
  private threshold = document.createElement('p');
  private extend = document.createElement('button');
  private end = document.createElement('button');
  private title_ = document.createElement('h2');
  private leftLabel = document.createElement('h3');
  private progressLabel = document.createElement('h3');
  private problem = document.createElement('p');

  constructor(private seat: Seat) {
    super();
    this.id = PANEL_ID;
    this.addClass('wod-lab-panel');
    this.title.iconClass = 'jp-CircleIcon';
    this.title.label = '⏱';
    this.left.className = 'wod-lab-left';
    this.left.id = 'wod-lab-left';
    this.bar.id = 'wod-lab-progress';
    this.bar.max = 100;
    this.cells.id = 'wod-lab-cells';
    this.extend.className = 'wod-lab-extend';
    this.extend.id = 'wod-lab-extend';
    this.end.className = 'wod-lab-end';
    this.end.id = 'wod-lab-end';
    this.problem.setAttribute('role', 'status');
    this.progressLabel.id = 'wod-lab-progress-label';
    this.bar.setAttribute('aria-labelledby', 'wod-lab-progress-label');
    const actions = document.createElement('div');
    actions.className = 'wod-lab-actions';
    actions.append(this.extend, this.end);
    this.node.append(
      this.title_,
      this.leftLabel,
      this.left,
      this.ends,
      actions,
      this.progressLabel,
      this.bar,
      this.cells,
      this.threshold,
      this.problem
    );
    this.extend.addEventListener('click', () => void this.seat.act('extend'));
    this.end.addEventListener('click', () => void this.confirmEnd());
  }

  async confirmEnd(): Promise<void> {
    const seat = this.seat;
    const status = seat.status;
    if (!status) {
      return;
    }
    const percent = status.progress.percent;
    const threshold = status.badge_min_completion;
    const body = [
      seat.text('end_body', { threshold, percent }),
      seat.text(percent >= threshold ? 'end_badge_yes' : 'end_badge_no')
    ].join(' ');
    const result = await showDialog({
      title: seat.text('end_title'),
      body,
      buttons: [
        Dialog.cancelButton({ label: seat.text('cancel') }),
        Dialog.warnButton({ label: seat.text('end_now') })
      ]
    });
    if (result.button.accept) {
      await seat.act('end');
    }
  }

  render(): void {
    const seat = this.seat;
    const status = seat.status;
    if (!status) {
      return;
    }
    this.title.label = seat.text('panel_title');
    this.title.caption = seat.text('panel_title');
    this.node.lang = status.language;
    this.title_.textContent = status.workshop_name;
    this.leftLabel.textContent = seat.text('time_left');
    this.left.textContent = clock(seat.secondsLeft());
    const ends = status.ends_at ? new Date(status.ends_at) : null;
    this.ends.textContent = ends
      ? seat.text('ends_at', {
          time: ends.toLocaleTimeString(status.language, {
            hour: '2-digit',
            minute: '2-digit'
          })
        })
      : '';
    this.extend.textContent = seat.text('extend', { minutes: status.extend_by_minutes });
    this.extend.hidden = !status.can_extend;
    this.end.textContent = seat.text('end_now');
    const progress = status.progress;
    this.progressLabel.textContent = seat.text('progress');
    this.bar.value = progress.percent;
    this.cells.textContent = seat.text('progress_cells', {
      done: progress.done,
      total: progress.total,
      percent: progress.percent
    });
    this.threshold.textContent = seat.text('threshold', {
      threshold: status.badge_min_completion
    });
    this.problem.textContent = seat.failures > 0 ? seat.text('unreachable') : '';
  }
}

/** Warn at 15 and 5 minutes before the end, once each per end time (an extension moves it). */
function remind(seat: Seat): void {
  const status = seat.status;
  if (!status?.ends_at || status.status !== 'active') {
    return;
  }
  const key = `wod-lab-reminded:${status.ends_at}`;
  const done = new Set<number>(JSON.parse(sessionStorage.getItem(key) ?? '[]') as number[]);
  const left = seat.secondsLeft() / 60;
  const due = REMINDERS.filter(m => left <= m && !done.has(m));
  if (due.length === 0) {
    return;
  }
  due.forEach(m => done.add(m));
  sessionStorage.setItem(key, JSON.stringify([...done]));
  const minutes = Math.min(...due);
  const message = [
    seat.text('reminder', { minutes }),
    status.can_extend ? seat.text('reminder_extend') : ''
  ].join(' ');
  Notification.warning(message.trim(), { autoClose: false });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'wod-lab:plugin',
  description: "The workshop's time, progress and end in the lab.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar | null,
    labShell: ILabShell | null
  ) => {
    // Never awaited here: the lab's start waits for every plugin's activation.
    void start(app, tracker, statusBar, labShell);
  }
};

async function start(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  statusBar: IStatusBar | null,
  labShell: ILabShell | null
): Promise<void> {
  const seat = new Seat();
  if (!(await seat.refresh()) || !seat.status) {
    return; // no wod seat (or its api is not reachable yet: no panel to show)
  }
  const panel = new Panel(seat);
  const item = new TimeItem(seat, () => app.shell.activateById(PANEL_ID));
  app.shell.add(panel, 'right', { rank: 50 });
  statusBar?.registerStatusItem('wod-lab:time', {
    item,
    align: 'left',
    rank: -100,
    priority: 100
  });
  const narrow = window.matchMedia(NARROW).matches;
  // a phone's lab hides the status bar's items: the time goes into the top bar as well
  const top = narrow
    ? new TimeItem(seat, () => app.shell.activateById(PANEL_ID), 'wod-lab-top')
    : null;
  if (top) {
    app.shell.add(top, 'top', { rank: 1000 });
  }
  const render = () => {
    panel.render();
    item.render();
    top?.render();
    remind(seat);
  };
  seat.listeners.push(render);
  render();
  await app.restored;
  if (narrow) {
    if (labShell) {
      labShell.mode = 'single-document';
      labShell.collapseRight();
      labShell.collapseLeft();
    }
  } else {
    // open the panel beside the notebook, and leave the keyboard to the notebook
    app.shell.activateById(PANEL_ID);
    const current = tracker.currentWidget;
    if (current) {
      app.shell.activateById(current.id);
    }
  }
  window.setInterval(render, 1000);
  let lastPoll = Date.now();
  window.setInterval(() => {
    // past the end, or the server not answering (stopped at the end): ask more often
    const late = seat.secondsLeft() <= 0 || seat.failures > 0;
    if (Date.now() - lastPoll >= (late ? POLL_LATE_MS : POLL_MS)) {
      lastPoll = Date.now();
      void seat.refresh();
    }
  }, 1000);
  let pending: number | undefined;
  NotebookActions.executed.connect((_, { notebook, cell }) => {
    if (cell.model.type !== 'code') {
      return;
    }
    const widget = tracker.find(w => w.content === notebook);
    window.clearTimeout(pending);
    pending = window.setTimeout(async () => {
      // The completion at the end is measured from the saved notebooks: save, then count.
      await widget?.context.save();
      await seat.refreshProgress();
    }, 300);
  });
}

export default plugin;
