// Draws an image and what was found in it (object boxes, text outlines) on one canvas,
// scaled to the size the canvas is shown at. Boxes come in pixels of the upright image
// at full resolution (the server's `image.width`/`height`).

const BOX_COLOURS = ['#d7263d', '#1b998b', '#2e86ab', '#f46036', '#6a4c93', '#c5283d'];
const TEXT_COLOUR = '#ffd400';

export class ImageCanvas {
  constructor(canvas) {
    this.canvas = canvas;
    this.bitmap = null;
    this.size = null;
    this.objects = [];
    this.lines = [];
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(canvas);
  }

  /** Show a new image (an ImageBitmap); what was found in the old one is forgotten. */
  show(bitmap) {
    if (this.bitmap && this.bitmap.close) this.bitmap.close();
    this.bitmap = bitmap;
    this.size = { width: bitmap.width, height: bitmap.height };
    this.objects = [];
    this.lines = [];
    this.canvas.hidden = false;
    this.draw();
  }

  /** Objects ({noun, score, box: [x1, y1, x2, y2]}) in an image of `size` pixels. */
  setObjects(objects, size) {
    this.objects = objects;
    if (size) this.size = size;
    this.draw();
  }

  /** OCR lines ({text, box: four corner points}). */
  setLines(lines, size) {
    this.lines = lines;
    if (size) this.size = size;
    this.draw();
  }

  draw() {
    const { canvas, bitmap } = this;
    if (!bitmap) return;
    const shown = canvas.clientWidth || bitmap.width;
    const ratio = window.devicePixelRatio || 1;
    const height = Math.round((shown * bitmap.height) / bitmap.width);
    canvas.width = Math.round(shown * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext('2d');
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.drawImage(bitmap, 0, 0, shown, height);
    const size = this.size || bitmap;
    const sx = shown / size.width;
    const sy = height / size.height;
    context.lineWidth = 2;
    context.font = '600 13px system-ui, sans-serif';
    context.textBaseline = 'top';
    context.setLineDash([4, 3]);
    context.strokeStyle = TEXT_COLOUR;
    for (const line of this.lines) {
      context.beginPath();
      line.box.forEach(([x, y], index) => {
        if (index === 0) context.moveTo(x * sx, y * sy);
        else context.lineTo(x * sx, y * sy);
      });
      context.closePath();
      context.stroke();
    }
    context.setLineDash([]);
    this.objects.forEach((object, index) => {
      const colour = BOX_COLOURS[index % BOX_COLOURS.length];
      const [x1, y1, x2, y2] = object.box;
      const left = x1 * sx;
      const top = y1 * sy;
      context.strokeStyle = colour;
      context.lineWidth = 3;
      context.strokeRect(left, top, (x2 - x1) * sx, (y2 - y1) * sy);
      const label = `${object.noun} ${Math.round(object.score * 100)}%`;
      const width = context.measureText(label).width + 8;
      const labelTop = top >= 18 ? top - 18 : top;
      context.fillStyle = colour;
      context.fillRect(left, labelTop, width, 18);
      context.fillStyle = '#ffffff';
      context.fillText(label, left + 4, labelTop + 2);
    });
    canvas.dataset.boxes = String(this.objects.length);
    canvas.dataset.lines = String(this.lines.length);
  }

  close() {
    this.observer.disconnect();
    if (this.bitmap && this.bitmap.close) this.bitmap.close();
    this.bitmap = null;
  }
}

/** A frame of a playing <video> as a JPEG blob. */
export function captureFrame(video, quality = 0.92) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return new Promise((resolve, reject) => {
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('The camera gave no picture.'))),
      'image/jpeg',
      quality,
    );
  });
}
