// Camera and images page: take a photo or upload one, see the objects found drawn over it
// and the text read from it, ask about it, and keep images in your library.

import { h, clear, field, formatTime } from '../ui.js';
import { ImageCanvas, captureFrame } from '../vision-canvas.js';

const LIBRARY_PAGE = 24;

function useStyles() {
  const href = new URL('../../css/pages.css', import.meta.url).href;
  const links = [...document.querySelectorAll('link[rel="stylesheet"]')];
  if (!links.some((link) => link.href === href)) {
    document.head.append(h('link', { rel: 'stylesheet', href }));
  }
}

function messageOf(error) {
  return (error && (error.detail || error.title || error.message)) || String(error);
}

function button(label, attrs = {}) {
  return h('button', { type: 'button', ...attrs }, label);
}


/** The stored bytes of one of your images (the page's session authenticates the fetch). */
async function fetchImage(path) {
  const response = await fetch(`/api/v1${path}`, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`The image could not be read (${response.status}).`);
  return response.blob();
}

export async function mount(root, app) {
  useStyles();
  const { api } = app;
  const status = h('p', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const say = (text) => {
    status.textContent = text;
  };
  const fail = (error) => {
    say('');
    app.toast(messageOf(error), 'error');
  };
  const page = h('div', { class: 'page page-vision' }, h('h1', {}, 'Camera and images'), status);
  clear(root);
  root.append(page);

  /** The image being looked at: an upload (`file`) or a stored one (`imageId`). */
  let current = null;

  // Picture in ---------------------------------------------------------------------------
  const video = h('video', { class: 'vision-video', id: 'vision-video', playsinline: true, muted: true });
  video.muted = true;
  video.hidden = true;
  let stream = null;
  const cameraButton = button('Open camera', { class: 'primary', id: 'vision-camera', onclick: () => toggleCamera() });
  const snapButton = button('Take photo', { id: 'vision-snap', onclick: () => takePhoto() });
  snapButton.hidden = true;
  const fileInput = h('input', { type: 'file', id: 'vision-file', name: 'file', accept: 'image/*' });
  fileInput.addEventListener('change', () => {
    const [file] = fileInput.files;
    if (file) useImage(file, file.name);
  });
  const keep = h('input', { type: 'checkbox', id: 'vision-keep', name: 'keep' });

  async function toggleCamera() {
    if (stream) {
      stopCamera();
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail(new Error('This browser cannot open the camera here (it needs https or localhost).'));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1280 } },
      });
    } catch (error) {
      fail(error.name === 'NotAllowedError' ? new Error('Camera access was refused.') : error);
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    snapButton.hidden = false;
    cameraButton.textContent = 'Close camera';
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    snapButton.hidden = true;
    cameraButton.textContent = 'Open camera';
  }

  async function takePhoto() {
    try {
      const blob = await captureFrame(video);
      await useImage(blob, 'photo.jpg');
    } catch (error) {
      fail(error);
    }
  }

  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'vision-input-title' },
      h('h2', { id: 'vision-input-title' }, 'Picture'),
      h('div', { class: 'actions' }, cameraButton, snapButton),
      video,
      field('Or choose an image file', fileInput),
      h(
        'label',
        { class: 'check', for: 'vision-keep' },
        keep,
        h('span', {}, 'Keep it in my library'),
      ),
    ),
  );

  // What was found -----------------------------------------------------------------------
  const canvasElement = h('canvas', {
    id: 'vision-canvas',
    class: 'vision-canvas',
    role: 'img',
    'aria-label': 'The picture with what was found in it',
  });
  canvasElement.hidden = true;
  const drawing = new ImageCanvas(canvasElement);
  const objectsList = h('ul', { id: 'vision-objects', class: 'chips' });
  const ocrText = h('pre', { id: 'vision-text', class: 'ocr-text' });
  const findings = h(
    'div',
    { class: 'findings' },
    h('h3', {}, 'Objects'),
    objectsList,
    h('h3', {}, 'Text'),
    ocrText,
  );
  findings.hidden = true;

  async function call(path, fields = {}) {
    if (current.imageId) return api.post(path, { image_id: current.imageId, ...fields });
    const form = new FormData();
    form.append('file', current.file, current.name);
    for (const [key, value] of Object.entries(fields)) form.append(key, String(value));
    return api.upload(path, form);
  }

  async function useImage(blob, name, imageId = null) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    } catch (error) {
      fail(new Error('That file is not an image this browser can show.'));
      return;
    }
    current = { file: blob, name, imageId };
    drawing.show(bitmap);
    answer.textContent = '';
    delete answer.dataset.kind;
    findings.hidden = false;
    clear(objectsList);
    ocrText.textContent = '';
    if (!imageId && keep.checked) {
      try {
        const form = new FormData();
        form.append('file', blob, name);
        const stored = await api.upload('/vision/images', form);
        current.imageId = stored.id;
        loadLibrary();
      } catch (error) {
        fail(error);
      }
    }
    await look();
  }

  async function look() {
    say('Looking…');
    const seen = current;
    const [detected, read] = await Promise.allSettled([call('/vision/detect'), call('/vision/ocr')]);
    if (seen !== current) return;
    clear(objectsList);
    if (detected.status === 'fulfilled') {
      const { objects, image } = detected.value;
      drawing.setObjects(objects, image);
      if (objects.length === 0) objectsList.append(h('li', { class: 'page-empty' }, 'No objects found.'));
      for (const object of objects) {
        objectsList.append(h('li', {}, `${object.noun} ${Math.round(object.score * 100)}%`));
      }
    } else {
      objectsList.append(h('li', { class: 'page-empty' }, messageOf(detected.reason)));
    }
    if (read.status === 'fulfilled') {
      drawing.setLines(read.value.lines, read.value.image);
      ocrText.textContent = read.value.text || 'No text found.';
    } else {
      ocrText.textContent = messageOf(read.reason);
    }
    findings.dataset.ready = '1';
    say('');
  }

  // Ask ----------------------------------------------------------------------------------
  const question = h('input', {
    id: 'vision-question',
    name: 'question',
    maxlength: '1000',
    placeholder: 'What does the sign say?',
  });
  const answer = h('p', { id: 'vision-answer', class: 'answer', 'aria-live': 'polite' });
  const askButton = h('button', { type: 'submit', class: 'primary', id: 'vision-ask' }, 'Ask');
  const describeButton = button('Describe it', {
    class: 'secondary',
    id: 'vision-describe',
    onclick: async () => {
      if (!current) {
        say('Take a photo or choose an image first.');
        return;
      }
      describeButton.disabled = true;
      say('Describing…');
      try {
        const analysis = await call('/vision/analyze');
        answer.textContent = analysis.description;
        answer.dataset.kind = 'description';
        say('');
      } catch (error) {
        fail(error);
      } finally {
        describeButton.disabled = false;
      }
    },
  });
  const askForm = h(
    'form',
    {
      class: 'ask-form',
      onsubmit: async (event) => {
        event.preventDefault();
        if (!current) {
          say('Take a photo or choose an image first.');
          return;
        }
        if (!question.value.trim()) {
          question.focus();
          return;
        }
        askButton.disabled = true;
        say('Thinking…');
        try {
          const reply = await call('/vision/vqa', { question: question.value.trim() });
          answer.textContent = reply.answer;
          answer.dataset.kind = 'answer';
          say('');
        } catch (error) {
          fail(error);
        } finally {
          askButton.disabled = false;
        }
      },
    },
    field('Ask about the picture', question),
    h('div', { class: 'actions' }, askButton, describeButton),
  );

  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'vision-found-title' },
      h('h2', { id: 'vision-found-title' }, 'What is in it'),
      h('div', { class: 'vision-stage' }, canvasElement),
      findings,
      askForm,
      answer,
    ),
  );

  // Library ------------------------------------------------------------------------------
  const library = h('ul', { id: 'vision-library', class: 'image-grid' });
  let nextCursor = null;
  const more = button('Show older', { class: 'secondary', onclick: () => loadLibrary(nextCursor) });
  more.hidden = true;

  function libraryItem(image) {
    const item = h(
      'li',
      { class: 'image-tile', 'data-id': image.id },
      h('img', {
        src: `/api/v1/vision/images/${encodeURIComponent(image.id)}/thumbnail`,
        alt: `Stored ${formatTime(image.created_at)}, ${image.width}×${image.height}`,
        width: '128',
        height: '128',
        loading: 'lazy',
      }),
      h('span', { class: 'meta' }, formatTime(image.created_at)),
    );
    item.append(
      h(
        'div',
        { class: 'actions' },
        button('Open', {
          class: 'small',
          'aria-label': `Open the image stored ${formatTime(image.created_at)}`,
          onclick: async () => {
            try {
              const blob = await fetchImage(`/vision/images/${encodeURIComponent(image.id)}`);
              await useImage(blob, `image-${image.id}`, image.id);
              canvasElement.scrollIntoView({ block: 'nearest' });
            } catch (error) {
              fail(error);
            }
          },
        }),
        button('Delete', {
          class: 'secondary small',
          'aria-label': `Delete the image stored ${formatTime(image.created_at)}`,
          onclick: async () => {
            if (!window.confirm('Delete this image from your library?')) return;
            try {
              await api.delete(`/vision/images/${encodeURIComponent(image.id)}`);
              item.remove();
              if (current && current.imageId === image.id) current.imageId = null;
              if (!library.querySelector('.image-tile')) loadLibrary();
            } catch (error) {
              fail(error);
            }
          },
        }),
      ),
    );
    return item;
  }

  async function loadLibrary(before = null) {
    try {
      const query = `limit=${LIBRARY_PAGE}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const listed = await api.get(`/vision/images?${query}`);
      if (!before) clear(library);
      for (const image of listed.images) library.append(libraryItem(image));
      if (!before && listed.images.length === 0) {
        library.append(h('li', { class: 'page-empty' }, 'No stored images.'));
      }
      nextCursor = listed.next_cursor;
      more.hidden = !nextCursor;
      library.dataset.ready = '1';
    } catch (error) {
      fail(error);
    }
  }

  page.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'vision-library-title' },
      h('h2', { id: 'vision-library-title' }, 'Library'),
      library,
      h('div', { class: 'actions' }, more),
    ),
  );
  await loadLibrary();
  page.dataset.ready = '1';

  return () => {
    stopCamera();
    drawing.close();
  };
}
