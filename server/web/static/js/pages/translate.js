// Translate page: text with language pickers, speak-to-translate, the two-person
// interpreter, the glossary and the history. Everything goes through /api/v1/translate.

import { button, clear, field, formatTime, h, messageOf, useStylesheet } from '../ui.js';
import { AudioPlayer, PcmRecorder, fromBase64, wavBlob } from '../translate-audio.js';
import { defaultTarget, languageSelect, nameOf, remember, remembered } from '../translate-lang.js';

const HISTORY_PAGE = 20;
/** A recording stops by itself after this long (the upload limit is the server's). */
const MAX_RECORDING_SECONDS = 60;

export async function mount(root, app) {
  useStylesheet(new URL('../../css/pages.css', import.meta.url));
  const { api } = app;
  const cleanups = [];
  const status = h('p', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const say = (text) => {
    status.textContent = text;
  };
  const fail = (error) => {
    say('');
    app.toast(messageOf(error), 'error');
  };

  const page = h(
    'div',
    { class: 'page page-translate' },
    h('h1', {}, 'Translate'),
    status,
  );
  clear(root);
  root.append(page);

  let languages = [];
  let engines = [];
  try {
    const listed = await api.get('/translate/languages');
    languages = listed.languages;
    engines = listed.engines;
  } catch (error) {
    page.append(
      h('p', { class: 'page-empty' }, `Translation is not available: ${messageOf(error)}`),
    );
    return () => {};
  }
  if (languages.length === 0) {
    page.append(
      h(
        'p',
        { class: 'page-empty' },
        'No translation engine is installed. Run `assistant models pull` on the device.',
      ),
    );
    return () => {};
  }
  const choices = remembered();
  const player = new AudioPlayer();
  cleanups.push(() => player.close());

  // Text ---------------------------------------------------------------------------------
  const source = languageSelect('translate-source', languages, choices.source || 'auto', {
    auto: true,
  });
  const target = languageSelect(
    'translate-target',
    languages,
    defaultTarget(languages, choices.target),
  );
  const text = h('textarea', {
    id: 'translate-text',
    name: 'text',
    rows: '4',
    maxlength: '20000',
    placeholder: 'Type or paste text',
  });
  const result = h('div', { class: 'translate-result', id: 'translate-result', 'aria-live': 'polite' });
  const swap = button('Swap', {
    class: 'secondary',
    'aria-label': 'Swap the languages',
    onclick: () => {
      if (source.value === 'auto') return;
      const from = source.value;
      source.value = target.value;
      target.value = from;
      remember({ source: source.value, target: target.value });
    },
  });
  const translateButton = h('button', { type: 'submit', class: 'primary', id: 'translate-submit' }, 'Translate');
  const form = h(
    'form',
    {
      class: 'translate-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const value = text.value.trim();
        if (!value) {
          say('Type something to translate.');
          text.focus();
          return;
        }
        remember({ source: source.value, target: target.value });
        translateButton.disabled = true;
        say('Translating…');
        try {
          const answer = await api.post('/translate/text', {
            text: text.value,
            source: source.value,
            target: target.value,
          });
          showTranslation(answer.translations[0]);
          say('');
          loadHistory();
        } catch (error) {
          fail(error);
        } finally {
          translateButton.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'language-row' },
      field('From', source),
      swap,
      field('To', target),
    ),
    field('Text to translate', text),
    h('div', { class: 'actions' }, translateButton),
  );

  function showTranslation(item) {
    clear(result);
    const from = item.detected_language
      ? `Detected ${item.detected_language.name} (${Math.round(item.detected_language.confidence * 100)}%)`
      : nameOf(languages, item.source);
    result.append(
      h('p', { class: 'translated', lang: item.target }, item.translated_text),
      h(
        'p',
        { class: 'meta' },
        `${from} → ${nameOf(languages, item.target)} · ${item.engine} ${item.model}` +
          `${item.cached ? ' · from the cache' : ''}`,
      ),
    );
    // The best engine's note is under the form already; another engine's is shown here.
    if (item.engine_note && !(engines[0] && engines[0].note === item.engine_note)) {
      result.append(h('p', { class: 'note' }, item.engine_note));
    }
  }

  page.append(
    h('section', { 'aria-labelledby': 'translate-text-title', class: 'card' },
      h('h2', { id: 'translate-text-title' }, 'Text'),
      form,
      result,
    ),
  );
  if (engines.length > 0 && engines[0].engine === 'llm') {
    form.append(h('p', { class: 'note' }, engines[0].note));
  }

  // Speak to translate ----------------------------------------------------------------------
  const spoken = h('div', { class: 'translate-result', id: 'speech-result', 'aria-live': 'polite' });
  let recorder = null;
  let recorded = [];
  const recordButton = button('Speak', {
    class: 'primary',
    id: 'speech-record',
    'aria-pressed': 'false',
    onclick: async () => {
      if (recorder) {
        await finishRecording();
        return;
      }
      recorded = [];
      recorder = new PcmRecorder((chunk) => recorded.push(chunk));
      try {
        await recorder.start();
      } catch (error) {
        recorder = null;
        fail(error);
        return;
      }
      recordButton.textContent = 'Stop and translate';
      recordButton.setAttribute('aria-pressed', 'true');
      say('Listening… press again when you are done.');
      const started = recorder;
      setTimeout(() => {
        if (recorder === started) finishRecording();
      }, MAX_RECORDING_SECONDS * 1000);
    },
  });

  async function finishRecording() {
    const rate = recorder.rate;
    await recorder.stop();
    recorder = null;
    recordButton.textContent = 'Speak';
    recordButton.setAttribute('aria-pressed', 'false');
    if (recorded.length === 0) {
      say('Nothing was recorded.');
      return;
    }
    recordButton.disabled = true;
    say('Translating what you said…');
    const upload = new FormData();
    upload.append('file', wavBlob(recorded, rate), 'speech.wav');
    upload.append('target', target.value);
    upload.append('source', source.value);
    upload.append('audio_format', 'wav');
    try {
      const answer = await api.upload('/translate/voice', upload);
      clear(spoken);
      spoken.append(
        h('p', { class: 'heard', lang: answer.source }, answer.text || '(nothing heard)'),
        h('p', { class: 'translated', lang: answer.target }, answer.translated_text),
        h(
          'p',
          { class: 'meta' },
          `${nameOf(languages, answer.source)} → ${nameOf(languages, answer.target)} · ` +
            `${answer.engine}${answer.voice ? ` · voice ${answer.voice}` : ''}`,
        ),
      );
      say('');
      if (answer.audio) {
        spoken.dataset.played = 'pending';
        const seconds = await player.playEncoded(fromBase64(answer.audio.base64));
        spoken.dataset.played = String(seconds.toFixed(2));
      }
      loadHistory();
    } catch (error) {
      fail(error);
    } finally {
      recordButton.disabled = false;
    }
  }
  cleanups.push(() => recorder && recorder.stop());

  page.append(
    h('section', { 'aria-labelledby': 'speech-title', class: 'card' },
      h('h2', { id: 'speech-title' }, 'Speak'),
      h(
        'p',
        { class: 'hint' },
        'Press Speak, say a sentence, press again: you hear it in the language chosen under “To”.',
      ),
      h('div', { class: 'actions' }, recordButton),
      spoken,
    ),
  );

  // Interpreter ------------------------------------------------------------------------------
  const first = languageSelect('interpret-first', languages, choices.first || 'en');
  const second = languageSelect(
    'interpret-second',
    languages,
    choices.second || defaultTarget(languages.filter((l) => l.code !== first.value), 'es'),
  );
  const log = h('ol', { class: 'stack', id: 'interpret-log', 'aria-live': 'polite' });
  const interpretState = h('p', { class: 'meta', id: 'interpret-state' }, 'Stopped.');
  let session = null;
  const interpretButton = button('Start interpreting', {
    class: 'primary',
    id: 'interpret-toggle',
    'aria-pressed': 'false',
    onclick: () => (session ? session.stop() : startInterpreting()),
  });

  async function startInterpreting() {
    if (first.value === second.value) {
      say('Choose two different languages.');
      return;
    }
    remember({ first: first.value, second: second.value });
    interpretButton.disabled = true;
    try {
      session = await openInterpreter();
      interpretButton.textContent = 'Stop';
      interpretButton.setAttribute('aria-pressed', 'true');
    } catch (error) {
      session = null;
      fail(error);
    } finally {
      interpretButton.disabled = false;
    }
  }

  async function openInterpreter() {
    const socket = await api.websocket('/translate/interpret');
    socket.binaryType = 'arraybuffer';
    let audioRate = 22050;
    let ended = false;
    const microphone = new PcmRecorder((chunk) => {
      // Half duplex: what the speaker plays must not be interpreted again.
      if (socket.readyState === WebSocket.OPEN && !player.playing) socket.send(chunk.buffer);
    });
    const stop = async () => {
      if (ended) return;
      ended = true;
      await microphone.stop();
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: 'stop' }));
      }
      setTimeout(() => socket.close(), 15000);
      session = null;
      interpretButton.textContent = 'Start interpreting';
      interpretButton.setAttribute('aria-pressed', 'false');
      interpretState.textContent = 'Stopped.';
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') {
        player.playPcm(event.data, audioRate);
        return;
      }
      const message = JSON.parse(event.data);
      // After Stop the socket stays open for the last translation; its state messages
      // must not take back the "Stopped." the user was shown.
      const showState = (text) => {
        if (!ended) interpretState.textContent = text;
      };
      switch (message.type) {
        case 'ready':
          showState('Listening: speak in either language.');
          break;
        case 'speech-start':
          showState('Hearing…');
          break;
        case 'speech-end':
          showState('Translating…');
          break;
        case 'audio-start':
          audioRate = message.rate || audioRate;
          break;
        case 'interpretation':
          log.append(
            h(
              'li',
              { class: 'utterance' },
              h('p', { class: 'heard', lang: message.source }, message.text),
              h('p', { class: 'translated', lang: message.target }, message.translated_text),
              h(
                'p',
                { class: 'meta' },
                `${nameOf(languages, message.source)} → ${nameOf(languages, message.target)}`,
              ),
            ),
          );
          showState('Listening: speak in either language.');
          break;
        case 'error':
          app.toast(message.detail || (message.problem && message.problem.detail) || 'Error', 'error');
          break;
        case 'end':
          socket.close();
          break;
        default:
          break;
      }
    };
    socket.onclose = () => {
      if (!ended) stop();
    };
    await new Promise((resolve, reject) => {
      if (socket.readyState === WebSocket.OPEN) resolve();
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener(
        'error',
        () => reject(new Error('The interpreter could not connect.')),
        { once: true },
      );
    });
    await microphone.start();
    socket.send(
      JSON.stringify({
        type: 'start',
        languages: [first.value, second.value],
        rate: microphone.rate,
        channels: 1,
      }),
    );
    interpretState.textContent = 'Connecting…';
    return { stop };
  }
  cleanups.push(() => session && session.stop());

  page.append(
    h('section', { 'aria-labelledby': 'interpret-title', class: 'card' },
      h('h2', { id: 'interpret-title' }, 'Interpreter'),
      h(
        'p',
        { class: 'hint' },
        'Two people, two languages: each speaks in turn and hears the other in their own.',
      ),
      h('div', { class: 'language-row' }, field('Person 1', first), field('Person 2', second)),
      h('div', { class: 'actions' }, interpretButton),
      interpretState,
      log,
    ),
  );

  // Glossary ---------------------------------------------------------------------------------
  let glossary = { terms: {}, keep: [], targets: [] };
  const glossaryList = h('ul', { class: 'stack', id: 'glossary-list' });
  const termInput = h('input', { id: 'glossary-term', name: 'term', maxlength: '200', required: true });
  const translationInput = h('input', {
    id: 'glossary-translation',
    name: 'translation',
    maxlength: '200',
    placeholder: 'leave empty to keep it as it is',
  });

  async function saveGlossary(next) {
    try {
      glossary = await api.put('/translate/glossary', {
        terms: next.terms,
        keep: next.keep,
        targets: next.targets || [],
      });
      renderGlossary();
      return true;
    } catch (error) {
      fail(error);
      return false;
    }
  }

  function renderGlossary() {
    clear(glossaryList);
    const entries = [
      ...Object.entries(glossary.terms).map(([term, translation]) => ({ term, translation })),
      ...glossary.keep.map((term) => ({ term, translation: null })),
    ];
    if (entries.length === 0) {
      glossaryList.append(h('li', { class: 'page-empty' }, 'No terms yet.'));
      return;
    }
    for (const entry of entries) {
      const label = entry.translation === null ? `${entry.term} (kept as is)` : `${entry.term} → ${entry.translation}`;
      glossaryList.append(
        h(
          'li',
          { class: 'row-item glossary-term' },
          h('span', {}, label),
          button('Remove', {
            class: 'secondary small',
            'aria-label': `Remove ${entry.term}`,
            onclick: () => {
              const terms = { ...glossary.terms };
              delete terms[entry.term];
              const keep = glossary.keep.filter((term) => term !== entry.term);
              if (Object.keys(terms).length === 0 && keep.length === 0) {
                api.delete('/translate/glossary').then(
                  () => {
                    glossary = { terms: {}, keep: [], targets: [] };
                    renderGlossary();
                  },
                  fail,
                );
              } else {
                saveGlossary({ ...glossary, terms, keep });
              }
            },
          }),
        ),
      );
    }
  }

  const addButton = h('button', { type: 'submit', class: 'primary', id: 'glossary-add' }, 'Add term');
  const glossaryForm = h(
    'form',
    {
      class: 'glossary-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const term = termInput.value.trim();
        const translation = translationInput.value.trim();
        if (!term) return;
        const terms = { ...glossary.terms };
        let keep = glossary.keep.filter((kept) => kept !== term);
        delete terms[term];
        if (translation) terms[term] = translation;
        else keep = [...keep, term];
        addButton.disabled = true;
        const saved = await saveGlossary({ ...glossary, terms, keep });
        addButton.disabled = false;
        // Only what was added is cleared: anything typed meanwhile stays.
        if (saved && termInput.value.trim() === term) {
          termInput.value = '';
          if (translationInput.value.trim() === translation) translationInput.value = '';
          termInput.focus();
        }
      },
    },
    field('Term', termInput),
    field('Translation', translationInput),
    h('div', { class: 'actions' }, addButton),
  );
  page.append(
    h('section', { 'aria-labelledby': 'glossary-title', class: 'card' },
      h('h2', { id: 'glossary-title' }, 'Glossary'),
      h(
        'p',
        { class: 'hint' },
        'Terms are always translated your way; terms without a translation stay as they are.',
      ),
      glossaryList,
      glossaryForm,
    ),
  );

  // History ----------------------------------------------------------------------------------
  const historyList = h('ul', { class: 'stack', id: 'translate-history' });
  let nextBefore = null;
  const more = button('Show older', {
    class: 'secondary',
    hidden: true,
    onclick: () => loadHistory(nextBefore),
  });
  const clearAll = button('Clear history', {
    class: 'secondary',
    onclick: async () => {
      if (!window.confirm('Forget every translation in your history?')) return;
      try {
        await api.delete('/translate/history');
        loadHistory();
      } catch (error) {
        fail(error);
      }
    },
  });

  function historyItem(entry) {
    const item = h(
      'li',
      { class: 'entry history-entry', 'data-id': entry.id },
      h('p', { class: 'heard', lang: entry.source }, entry.text),
      h('p', { class: 'translated', lang: entry.target }, entry.translated_text),
      h(
        'p',
        { class: 'meta' },
        `${entry.kind === 'voice' ? 'Spoken · ' : ''}${nameOf(languages, entry.source)} → ` +
          `${nameOf(languages, entry.target)} · ${formatTime(entry.created_at)}`,
      ),
    );
    item.append(
      button('Delete', {
        class: 'secondary small',
        'aria-label': `Delete the translation of “${entry.text.slice(0, 40)}”`,
        onclick: async () => {
          try {
            await api.delete(`/translate/history/${encodeURIComponent(entry.id)}`);
            item.remove();
            if (!historyList.querySelector('li[data-id]')) loadHistory();
          } catch (error) {
            fail(error);
          }
        },
      }),
    );
    return item;
  }

  async function loadHistory(before = null) {
    try {
      const query = `limit=${HISTORY_PAGE}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const page = await api.get(`/translate/history?${query}`);
      if (!before) clear(historyList);
      for (const entry of page.entries) historyList.append(historyItem(entry));
      if (!before && page.entries.length === 0) {
        historyList.append(h('li', { class: 'page-empty' }, 'Nothing translated yet.'));
      }
      nextBefore = page.next_before;
      more.hidden = !nextBefore;
    } catch (error) {
      fail(error);
    }
  }

  page.append(
    h('section', { 'aria-labelledby': 'history-title', class: 'card' },
      h('h2', { id: 'history-title' }, 'History'),
      historyList,
      h('div', { class: 'actions' }, more, clearAll),
    ),
  );

  try {
    glossary = await api.get('/translate/glossary');
  } catch (error) {
    fail(error);
  }
  renderGlossary();
  await loadHistory();
  page.dataset.ready = '1';

  return () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch (error) {
        // a cleanup must not stop the others
      }
    }
  };
}

