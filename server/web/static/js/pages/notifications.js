// Notifications page: the live list (read and dismiss shared by all your devices), Web
// Push on this browser, and your preferences with quiet hours.

import { button, clear, field, formatTime, h, messageOf, useStylesheet } from '../ui.js';
import { subscribe } from '../notify-feed.js';
import {
  currentSubscription,
  disablePush,
  enablePush,
  pushSupport,
} from '../notify-push.js';

const PRIORITY = { 1: 'Min', 2: 'Low', 3: 'Default', 4: 'High', 5: 'Urgent' };
const CHANNEL_NAMES = {
  desktop: 'The device’s desktop',
  companion: 'Open apps and pages (live)',
  webpush: 'Browsers (Web Push)',
  fcm: 'Android app (FCM)',
  apns: 'iOS app (APNs)',
};


function checkbox(id, text, checked) {
  const input = h('input', { type: 'checkbox', id, name: id });
  input.checked = Boolean(checked);
  return { input, label: h('label', { class: 'check', for: id }, input, h('span', {}, text)) };
}

function shown(notification) {
  return notification.status === 'active' && !notification.dismissed;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

export async function mount(root, app) {
  useStylesheet(new URL('../../css/pages.css', import.meta.url));
  const { api } = app;
  const status = h('p', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const say = (text) => {
    status.textContent = text;
  };
  const fail = (error) => {
    say('');
    app.toast(messageOf(error), 'error');
  };
  const page = h('div', { class: 'page page-notifications' }, h('h1', {}, 'Notifications'), status);
  clear(root);
  root.append(page);

  // The live list --------------------------------------------------------------------------
  const items = new Map();
  const list = h('ul', { id: 'notification-list', class: 'stack', 'aria-live': 'polite' });
  const empty = h('p', { class: 'page-empty', id: 'notification-empty' }, 'Nothing new.');
  const live = h('span', { class: 'live-state', id: 'notification-live' }, 'Connecting…');
  let unreadTimer = null;

  function refreshUnread() {
    clearTimeout(unreadTimer);
    unreadTimer = setTimeout(async () => {
      try {
        const { unread } = await api.get('/notifications/unread');
        app.setUnread(unread);
        list.dataset.unread = String(unread);
      } catch (error) {
        // the badge keeps its number until the next event
      }
    }, 50);
  }

  function order() {
    return [...items.values()].sort((a, b) =>
      (b.created_at || '').localeCompare(a.created_at || '') || b.id.localeCompare(a.id),
    );
  }

  async function change(notification, action) {
    try {
      const changed = await api.post(
        `/notifications/${encodeURIComponent(notification.id)}/${action}`,
        {},
      );
      upsert(changed);
      refreshUnread();
    } catch (error) {
      fail(error);
    }
  }

  function itemOf(notification) {
    const unread = !notification.read;
    const head = h(
      'div',
      { class: 'notification-head' },
      h('strong', { class: 'notification-title' }, notification.title),
      h('span', { class: `tag category` }, notification.category),
    );
    if (notification.priority >= 4) {
      head.append(h('span', { class: 'tag priority-high' }, PRIORITY[notification.priority]));
    }
    const buttons = h('div', { class: 'actions' });
    for (const action of notification.actions || []) {
      if (action.kind === 'url') {
        const href = safeUrl(action.url);
        if (href) {
          buttons.append(
            h('a', { class: 'button-link', href, target: '_blank', rel: 'noopener noreferrer' }, action.label),
          );
        }
      } else {
        buttons.append(
          button(action.label, {
            class: 'small',
            onclick: () => change(notification, `actions/${encodeURIComponent(action.id)}`),
          }),
        );
      }
    }
    if (unread) {
      buttons.append(
        button('Mark read', {
          class: 'small mark-read',
          'aria-label': `Mark “${notification.title}” read`,
          onclick: () => change(notification, 'read'),
        }),
      );
    }
    buttons.append(
      button('Dismiss', {
        class: 'secondary small dismiss',
        'aria-label': `Dismiss “${notification.title}”`,
        onclick: () => change(notification, 'dismiss'),
      }),
    );
    const item = h(
      'li',
      {
        class: unread ? 'entry notification unread' : 'entry notification',
        'data-id': notification.id,
        'data-read': unread ? 'false' : 'true',
      },
      head,
    );
    if (notification.body) item.append(h('p', { class: 'notification-body' }, notification.body));
    item.append(
      h(
        'p',
        { class: 'meta' },
        `${unread ? 'Unread · ' : ''}${formatTime(notification.delivered_at || notification.created_at)}`,
      ),
      buttons,
    );
    return item;
  }

  function upsert(notification) {
    const existing = list.querySelector(`li[data-id="${CSS.escape(notification.id)}"]`);
    if (!shown(notification)) {
      items.delete(notification.id);
      if (existing) existing.remove();
      empty.hidden = items.size > 0;
      return;
    }
    items.set(notification.id, notification);
    const item = itemOf(notification);
    if (existing) {
      existing.replaceWith(item);
    } else {
      const sorted = order();
      const next = sorted[sorted.findIndex((n) => n.id === notification.id) + 1];
      const before = next && list.querySelector(`li[data-id="${CSS.escape(next.id)}"]`);
      list.insertBefore(item, before || null);
    }
    empty.hidden = true;
  }

  async function loadList() {
    try {
      const page = await api.get('/notifications/history?status=active&limit=50');
      items.clear();
      clear(list);
      for (const notification of page.notifications) upsert(notification);
      empty.hidden = items.size > 0;
      list.dataset.loaded = '1';
    } catch (error) {
      fail(error);
    }
    refreshUnread();
  }

  // A click on a pushed notification opens #/notifications/<id>[/<action>]: it counts as
  // reading it (or pressing that button), reported here where the session is.
  async function openFromPush([id, action]) {
    if (!id) return;
    try {
      const path = `/notifications/${encodeURIComponent(id)}/actions/${encodeURIComponent(action || 'default')}`;
      upsert(await api.post(path, {}));
      refreshUnread();
    } catch (error) {
      fail(error);
      return;
    }
    const target = list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (target) {
      target.setAttribute('tabindex', '-1');
      target.scrollIntoView({ block: 'center' });
      target.focus();
    }
  }

  const stopFeed = subscribe(api, (event) => {
    switch (event.event) {
      case 'connected':
        live.textContent = 'Live';
        live.dataset.state = 'live';
        break;
      case 'disconnected':
        live.textContent = 'Reconnecting…';
        live.dataset.state = 'reconnecting';
        break;
      case 'open':
        loadList();
        break;
      case 'new':
        if (event.notification) {
          upsert(event.notification);
          api.post(`/notifications/${encodeURIComponent(event.notification.id)}/ack`, {}).catch(() => {});
        }
        refreshUnread();
        break;
      case 'updated':
      case 'read':
      case 'dismissed':
      case 'withdrawn':
      case 'action':
        if (event.notification) upsert(event.notification);
        refreshUnread();
        break;
      case 'error':
        say((event.problem && event.problem.detail) || 'The live stream failed; reconnecting.');
        break;
      default:
        break;
    }
  });

  const readAll = button('Mark all read', {
    class: 'secondary',
    id: 'notification-read-all',
    onclick: async () => {
      try {
        await api.post('/notifications/read-all', {});
        refreshUnread();
      } catch (error) {
        fail(error);
      }
    },
  });
  const test = button('Send me a test', {
    class: 'secondary',
    id: 'notification-test',
    onclick: async () => {
      try {
        await api.post('/notifications/send', {
          title: 'Test notification',
          body: `Sent from ${window.location.host} at ${new Date().toLocaleTimeString()}.`,
          category: 'general',
        });
      } catch (error) {
        fail(error);
      }
    },
  });
  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'notification-inbox-title' },
      h('div', { class: 'section-head' }, h('h2', { id: 'notification-inbox-title' }, 'Inbox'), live),
      list,
      empty,
      h('div', { class: 'actions' }, readAll, test),
    ),
  );

  // Web Push on this browser ---------------------------------------------------------------
  const pushState = h('p', { id: 'push-state', class: 'meta' });
  const pushButton = button('Turn on push for this browser', { class: 'primary', id: 'push-toggle' });
  const subscriptionsList = h('ul', { id: 'push-subscriptions', class: 'stack' });
  const support = pushSupport();

  async function showPush() {
    if (!support.supported) {
      pushState.textContent = support.reason;
      pushButton.hidden = true;
    } else {
      const subscription = await currentSubscription().catch(() => null);
      const permission = Notification.permission;
      pushButton.hidden = false;
      if (subscription) {
        pushState.textContent = 'Push is on for this browser.';
        pushButton.textContent = 'Turn off push for this browser';
        pushButton.dataset.on = '1';
      } else {
        pushState.textContent =
          permission === 'denied'
            ? 'Notifications are blocked for this site: allow them in the browser’s site settings first.'
            : 'Push is off for this browser.';
        pushButton.textContent = 'Turn on push for this browser';
        pushButton.dataset.on = '';
      }
    }
    try {
      const { items: subscriptions } = await api.get('/notifications/webpush/subscriptions');
      clear(subscriptionsList);
      for (const item of subscriptions) {
        const row = h(
          'li',
          { class: 'row-item', 'data-id': item.id },
          h('span', {}, `${item.name || 'A browser'} · since ${formatTime(item.created_at)}`),
        );
        if (item.last_error) row.append(h('span', { class: 'meta' }, ` · last error: ${item.last_error}`));
        row.append(
          button('Remove', {
            class: 'secondary small',
            'aria-label': `Remove push for ${item.name || 'this browser'}`,
            onclick: async () => {
              try {
                await api.delete(`/notifications/webpush/subscriptions/${encodeURIComponent(item.id)}`);
                showPush();
              } catch (error) {
                fail(error);
              }
            },
          }),
        );
        subscriptionsList.append(row);
      }
      if (subscriptions.length === 0) {
        subscriptionsList.append(h('li', { class: 'page-empty' }, 'No browser gets pushes yet.'));
      }
    } catch (error) {
      fail(error);
    }
  }

  pushButton.addEventListener('click', async () => {
    pushButton.disabled = true;
    try {
      if (pushButton.dataset.on) {
        await disablePush(api);
        say('Push is off for this browser.');
      } else {
        say('Asking the browser…');
        await enablePush(api);
        say('Push is on: notifications reach this browser even when this page is closed.');
      }
    } catch (error) {
      fail(error);
    } finally {
      pushButton.disabled = false;
      showPush();
    }
  });

  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'push-title' },
      h('h2', { id: 'push-title' }, 'Push to this browser'),
      h(
        'ol',
        { class: 'steps' },
        h('li', {}, 'Press the button: the browser asks whether this site may show notifications.'),
        h(
          'li',
          {},
          'Allow it: the browser makes a push subscription with this device’s key and the device keeps it.',
        ),
        h(
          'li',
          {},
          'From then on notifications arrive through the browser’s push service, even with this page closed; clicking one opens it here.',
        ),
      ),
      h(
        'p',
        { class: 'hint' },
        'Pushes travel through your browser vendor’s push service, encrypted so only this browser can read them; the device needs internet access to reach it. Without it, this page still gets everything live while it is open.',
      ),
      pushState,
      h('div', { class: 'actions' }, pushButton),
      h('h3', {}, 'Browsers that get pushes'),
      subscriptionsList,
    ),
  );

  // Preferences ----------------------------------------------------------------------------
  const prefsForm = h('form', { id: 'notification-preferences', class: 'preferences' });
  let stored = null;
  let channelStates = {};

  function preferencesForm(prefs) {
    clear(prefsForm);
    const enabled = checkbox('pref-enabled', 'Notify me', prefs.enabled);
    const channelBoxes = Object.keys(CHANNEL_NAMES).map((name) => {
      const state = channelStates[name];
      const text =
        CHANNEL_NAMES[name] + (state && !state.available ? ` (not available: ${state.reason})` : '');
      return { name, ...checkbox(`pref-channel-${name}`, text, prefs.channels.includes(name)) };
    });
    const quiet = prefs.quiet_hours;
    const quietOn = checkbox('pref-quiet', 'Quiet hours', Boolean(quiet));
    const start = h('input', { type: 'time', id: 'pref-quiet-start', name: 'start' });
    start.value = quiet ? quiet.start : '22:00';
    const end = h('input', { type: 'time', id: 'pref-quiet-end', name: 'end' });
    end.value = quiet ? quiet.end : '07:00';
    const bypass = h('select', { id: 'pref-quiet-bypass', name: 'bypass' });
    for (const [value, name] of Object.entries(PRIORITY)) {
      bypass.append(h('option', { value }, `${name} (${value})`));
    }
    bypass.value = String(quiet ? quiet.bypass_priority : 5);
    const dnd = h('input', { type: 'datetime-local', id: 'pref-dnd', name: 'dnd' });
    if (prefs.do_not_disturb_until) {
      const until = new Date(prefs.do_not_disturb_until);
      if (until > new Date()) {
        dnd.value = new Date(until.getTime() - until.getTimezoneOffset() * 60000)
          .toISOString()
          .slice(0, 16);
      }
    }
    const syncQuiet = () => {
      start.disabled = !quietOn.input.checked;
      end.disabled = !quietOn.input.checked;
      bypass.disabled = !quietOn.input.checked;
    };
    quietOn.input.addEventListener('change', syncQuiet);
    syncQuiet();
    const save = h('button', { type: 'submit', class: 'primary', id: 'pref-save' }, 'Save preferences');
    prefsForm.onsubmit = async (event) => {
      event.preventDefault();
      const next = {
        ...stored.preferences,
        enabled: enabled.input.checked,
        channels: channelBoxes.filter((box) => box.input.checked).map((box) => box.name),
        quiet_hours: quietOn.input.checked
          ? { start: start.value, end: end.value, bypass_priority: Number(bypass.value) }
          : null,
        do_not_disturb_until: dnd.value ? new Date(dnd.value).toISOString() : null,
      };
      save.disabled = true;
      try {
        stored = await api.put('/notifications/preferences', next);
        say('Preferences saved.');
        prefsForm.dataset.saved = String(stored.version);
      } catch (error) {
        fail(error);
      } finally {
        save.disabled = false;
      }
    };
    prefsForm.append(
      enabled.label,
      h(
        'fieldset',
        {},
        h('legend', {}, 'Where notifications go'),
        ...channelBoxes.map((box) => box.label),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Quiet hours (in your profile’s time zone)'),
        quietOn.label,
        h('div', { class: 'language-row' }, field('From', start), field('Until', end)),
        field('Still notify me from priority', bypass),
      ),
      field('Do not disturb until', dnd),
      h('div', { class: 'actions' }, save),
    );
  }

  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'preferences-title' },
      h('h2', { id: 'preferences-title' }, 'Preferences'),
      prefsForm,
    ),
  );

  try {
    const [prefs, channels] = await Promise.all([
      api.get('/notifications/preferences'),
      api.get('/notifications/channels'),
    ]);
    channelStates = Object.fromEntries(channels.channels.map((channel) => [channel.name, channel]));
    stored = prefs;
    preferencesForm(prefs.preferences);
  } catch (error) {
    fail(error);
  }
  await Promise.all([loadList(), showPush()]);
  await openFromPush(app.params || []);
  page.dataset.ready = '1';

  return () => {
    clearTimeout(unreadTimer);
    stopFeed();
  };
}
