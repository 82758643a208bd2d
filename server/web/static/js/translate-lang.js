// Language pickers for the translate page, from GET /translate/languages.

import { h } from './ui.js';

const KEY = 'translate.languages';

/** What the user picked last time ({source, target, first, second}), from this browser. */
export function remembered() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || '{}') || {};
  } catch (error) {
    return {};
  }
}

export function remember(choices) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ ...remembered(), ...choices }));
  } catch (error) {
    // storage full or disabled: the choice is only forgotten
  }
}

/** A <select> of languages; `auto` adds "Detect language" first. */
export function languageSelect(id, languages, chosen, { auto = false } = {}) {
  const select = h('select', { id, name: id });
  if (auto) select.append(h('option', { value: 'auto' }, 'Detect language'));
  for (const language of languages) {
    select.append(h('option', { value: language.code }, `${language.name} (${language.code})`));
  }
  const codes = new Set(languages.map((language) => language.code));
  if (chosen && (codes.has(chosen) || (auto && chosen === 'auto'))) select.value = chosen;
  return select;
}

/** The default target: the remembered one, else Spanish, English or the first. */
export function defaultTarget(languages, wanted) {
  const codes = languages.map((language) => language.code);
  for (const code of [wanted, 'es', 'en']) if (code && codes.includes(code)) return code;
  return codes[0];
}

/** A language's name, or its code when the device does not list it. */
export function nameOf(languages, code) {
  const found = languages.find((language) => language.code === code);
  return found ? found.name : code;
}
