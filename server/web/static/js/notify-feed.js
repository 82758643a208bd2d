// One live stream of the user's notification events per page, shared by every listener
// (the notifications page, the unread badge). It reconnects after a drop and resumes
// after the last event it saw (`since=`), so nothing is missed or applied twice.

const RETRY_SECONDS = [1, 2, 5, 10, 30];

let feed = null;

function parse(data) {
  if (typeof data !== 'string') return data || {};
  try {
    return JSON.parse(data);
  } catch (error) {
    return {};
  }
}

class Feed {
  constructor(api) {
    this.api = api;
    this.listeners = new Set();
    this.controller = new AbortController();
    this.lastId = null;
    this.connected = false;
    this.run();
  }

  async run() {
    let failures = 0;
    while (!this.controller.signal.aborted) {
      const path = this.lastId
        ? `/notifications/stream?since=${encodeURIComponent(this.lastId)}`
        : '/notifications/stream';
      try {
        await this.api.events(path, (message) => this.dispatch(message), {
          signal: this.controller.signal,
        });
        failures = 0;
      } catch (error) {
        if (this.controller.signal.aborted) return;
        if (error && (error.status === 401 || error.status === 403)) return;
        failures += 1;
      }
      this.setConnected(false);
      if (this.controller.signal.aborted) return;
      const wait = RETRY_SECONDS[Math.min(failures, RETRY_SECONDS.length - 1)];
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait * 1000);
        this.controller.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  setConnected(connected) {
    if (this.connected === connected) return;
    this.connected = connected;
    this.emit({ event: connected ? 'connected' : 'disconnected' });
  }

  dispatch(message) {
    const payload = parse(message.data);
    const event = message.event || payload.event;
    if (payload.id) this.lastId = payload.id;
    if (event === 'open') {
      if (payload.last_event_id) this.lastId = payload.last_event_id;
      this.setConnected(true);
    }
    if (event === 'keepalive') return;
    this.emit({ ...payload, event });
  }

  emit(event) {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.warn('a notification listener failed', error);
      }
    }
  }

  close() {
    this.controller.abort();
  }
}

/** Listen to the user's notification events; returns the function that stops listening.
 * Events: the stream's (`open`, `new`, `updated`, `withdrawn`, `read`, `dismissed`,
 * `action`, `error`) plus `connected`/`disconnected`. */
export function subscribe(api, listener) {
  if (!feed) feed = new Feed(api);
  const mine = feed;
  mine.listeners.add(listener);
  if (mine.connected) listener({ event: 'connected' });
  return () => {
    mine.listeners.delete(listener);
    if (mine.listeners.size === 0) {
      mine.close();
      if (feed === mine) feed = null;
    }
  };
}

const COUNTED = new Set(['open', 'new', 'updated', 'withdrawn', 'read', 'dismissed', 'action']);

/** Keep `app.setUnread(count)` in step with every device: the count is read again after
 * each event that can change it. Returns the function that stops it. */
export function startUnreadBadge(app) {
  let timer = null;
  let stopped = false;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const { unread } = await app.api.get('/notifications/unread');
        if (!stopped) app.setUnread(unread);
      } catch (error) {
        // signed out or offline: the badge keeps its last number
      }
    }, 100);
  };
  const unsubscribe = subscribe(app.api, (event) => {
    if (COUNTED.has(event.event)) refresh();
  });
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe();
  };
}
