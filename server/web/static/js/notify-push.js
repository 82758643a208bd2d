// Web Push for this browser: the service worker (/sw.js, the app's own), the permission,
// the push subscription made with this device's VAPID key, registered with the server.

/** Whether this browser can receive pushes here, and why not. */
export function pushSupport() {
  if (!window.isSecureContext) {
    return { supported: false, reason: 'Push needs the page over https (or localhost).' };
  }
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) {
    return { supported: false, reason: 'This browser does not support Web Push.' };
  }
  if (!('Notification' in window)) {
    return { supported: false, reason: 'This browser cannot show notifications.' };
  }
  return { supported: true, reason: '' };
}

/** The app's service worker registration (registered here if the app has not yet). */
export async function workerRegistration() {
  const found = await navigator.serviceWorker.getRegistration('/');
  if (found) return found;
  return navigator.serviceWorker.register('/sw.js', { scope: '/' });
}

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(padded + '='.repeat((4 - (padded.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function sameKey(subscription, key) {
  const current = subscription.options && subscription.options.applicationServerKey;
  if (!current) return true;
  const have = new Uint8Array(current);
  return have.length === key.length && have.every((byte, index) => byte === key[index]);
}

/** This browser's push subscription, or null. */
export async function currentSubscription() {
  if (!pushSupport().supported) return null;
  const registration = await navigator.serviceWorker.getRegistration('/');
  return registration ? registration.pushManager.getSubscription() : null;
}

/** A short name for this browser ("Chrome on Linux"). */
export function browserName() {
  const agent = navigator.userAgent;
  const browser =
    (/Edg\//.test(agent) && 'Edge') ||
    (/Firefox\//.test(agent) && 'Firefox') ||
    (/Chrom(e|ium)\//.test(agent) && 'Chrome') ||
    (/Safari\//.test(agent) && 'Safari') ||
    'Browser';
  const system =
    (/Android/.test(agent) && 'Android') ||
    (/iPhone|iPad/.test(agent) && 'iOS') ||
    (/Windows/.test(agent) && 'Windows') ||
    (/Mac OS X/.test(agent) && 'macOS') ||
    (/Linux/.test(agent) && 'Linux') ||
    'a device';
  return `${browser} on ${system}`;
}

const SUBSCRIBE_TIMEOUT_MS = 20000;

/** The browser's own push service makes the subscription: it needs the internet, and some
 * browsers refuse in private windows (Chrome's incognito: crbug.com/41124656). */
async function subscribeWith(registration, key) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            'The browser’s push service did not answer: it needs internet access. This page still gets notifications live while it is open.',
          ),
        ),
      SUBSCRIBE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      timeout,
    ]);
  } catch (error) {
    if (error && error.name === 'AbortError') {
      throw new Error(
        `The browser could not subscribe to its push service (${error.message}). Private windows cannot receive pushes; without internet access the push service cannot be reached.`,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Ask for permission, subscribe with the server's key and register the subscription.
 * Resolves with the server's record of it. */
export async function enablePush(api) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new Error(
      permission === 'denied'
        ? 'Notifications are blocked for this site: allow them in the browser’s site settings.'
        : 'Notifications were not allowed.',
    );
  }
  const { public_key: publicKey } = await api.get('/notifications/webpush/vapid-public-key');
  const key = keyBytes(publicKey);
  const registration = await workerRegistration();
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) subscription = await subscribeWith(registration, key);
  return registerSubscription(api, subscription.toJSON());
}

/** Tell the server about a subscription (`PushSubscription.toJSON()`). */
export async function registerSubscription(api, json) {
  const body = { endpoint: json.endpoint, keys: json.keys, name: browserName() };
  if (typeof json.expirationTime === 'number') body.expirationTime = json.expirationTime;
  return api.post('/notifications/webpush/subscriptions', body);
}

/** Unsubscribe this browser and forget its subscription on the server. */
export async function disablePush(api) {
  const subscription = await currentSubscription();
  if (!subscription) return;
  const { items } = await api.get('/notifications/webpush/subscriptions');
  for (const item of items) {
    if (item.endpoint === subscription.endpoint) {
      await api.delete(`/notifications/webpush/subscriptions/${encodeURIComponent(item.id)}`);
    }
  }
  await subscription.unsubscribe();
}
