// A small time-series plot on a canvas: lines, time axis, event markers, drag/wheel zoom.
//
// Live mode shows the last `span` seconds and scrolls as data arrives; a drag or a wheel
// turn leaves live mode and asks (onRange) for the chosen range, which the caller loads
// from the store as a downsampled query and hands back with setSeries().

import { formatTick, niceStep, STEPS } from "./axis.js";

export { formatTick, niceStep };

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04"];
const PRIORITY_COLORS = ["#0284c7", "#d97706", "#dc2626"];
const PAD = { left: 64, right: 16, top: 22, bottom: 30 };

export class Plot {
  constructor(canvas, { onRange = () => {}, onLive = () => {}, span = 60 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onRange = onRange;
    this.onLive = onLive;
    this.series = new Map();
    this.events = [];
    this.live = true;
    this.span = span;
    this.xmin = Date.now() / 1000 - span;
    this.xmax = Date.now() / 1000;
    this.drag = null;
    this.hover = null;
    this.dirty = true;
    this.frames = 0;
    this._wheelTimer = null;
    this._bind();
    this._loop = () => {
      if (this.live) this._follow();
      if (this.dirty) this.draw();
      this._raf = requestAnimationFrame(this._loop);
    };
    this._raf = requestAnimationFrame(this._loop);
  }

  destroy() {
    cancelAnimationFrame(this._raf);
    window.removeEventListener("pointermove", this._onMove);
    window.removeEventListener("pointerup", this._onUp);
    this._ro && this._ro.disconnect();
  }

  /** Replace a series' points (x ascending, epoch seconds). */
  setSeries(key, { x = [], y = [], unit = "" } = {}) {
    const old = this.series.get(key);
    const color = old ? old.color : COLORS[this.series.size % COLORS.length];
    this.series.set(key, { x: Array.from(x), y: Array.from(y), unit, color });
    this.dirty = true;
  }

  removeSeries(key) {
    this.series.delete(key);
    this.dirty = true;
  }

  /** Append live points; older ones than 4 spans are dropped to bound memory. */
  append(key, xs, ys, unit) {
    const s = this.series.get(key);
    if (!s) return;
    for (let i = 0; i < xs.length; i++) {
      const x = Number(xs[i]);
      const y = Number(ys[i]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (s.x.length && x < s.x[s.x.length - 1]) continue; // out of order: skip, store has it
      s.x.push(x);
      s.y.push(y);
    }
    if (unit !== undefined && unit !== null) s.unit = unit;
    if (this.live) {
      const cut = this._right() - 4 * this.span;
      let i = 0;
      while (i < s.x.length && s.x[i] < cut) i++;
      if (i > 0) {
        s.x.splice(0, i);
        s.y.splice(0, i);
      }
    }
    this.dirty = true;
  }

  setEvents(events) {
    this.events = events.slice();
    this.dirty = true;
  }

  addEvent(ev) {
    this.events.push(ev);
    this.dirty = true;
  }

  /** Follow the newest data, showing the last `span` seconds. */
  setLive(span = this.span) {
    this.live = true;
    this.span = span;
    this._follow();
  }

  /** Show a fixed range (leaves live mode). */
  setRange(xmin, xmax) {
    this.live = false;
    this.xmin = xmin;
    this.xmax = xmax;
    this.dirty = true;
  }

  _right() {
    let right = Date.now() / 1000;
    for (const s of this.series.values()) {
      if (s.x.length) right = Math.max(right, s.x[s.x.length - 1]);
    }
    return right;
  }

  _follow() {
    const right = this._right();
    // redraw only when the window moved by a pixel or more: ~15 frames/s for a minute
    const a = this._area();
    const pxTime = this.span / Math.max(1, a.x1 - a.x0);
    if (Math.abs(right - this.xmax) >= pxTime || this.xmin !== this.xmax - this.span) {
      this.xmax = right;
      this.xmin = right - this.span;
      this.dirty = true;
    }
  }

  /** Number of points of each series inside the visible range. */
  visibleCounts() {
    const out = {};
    for (const [k, s] of this.series) {
      out[k] = s.x.filter((x) => x >= this.xmin && x <= this.xmax).length;
    }
    return out;
  }

  /** The point of each series nearest to time x (binary search), as {key: [x, y]}. */
  valuesAt(x) {
    const out = {};
    for (const [k, s] of this.series) {
      if (!s.x.length) continue;
      let lo = 0;
      let hi = s.x.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (s.x[mid] < x) lo = mid;
        else hi = mid;
      }
      const i = Math.abs(s.x[lo] - x) <= Math.abs(s.x[hi] - x) ? lo : hi;
      out[k] = [s.x[i], s.y[i]];
    }
    return out;
  }

  _area() {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    return { x0: PAD.left, y0: PAD.top, x1: w - PAD.right, y1: h - PAD.bottom, w, h };
  }

  _xToPx(x, a) {
    return a.x0 + ((x - this.xmin) / (this.xmax - this.xmin)) * (a.x1 - a.x0);
  }

  _pxToX(px, a) {
    return this.xmin + ((px - a.x0) / (a.x1 - a.x0)) * (this.xmax - this.xmin);
  }

  _yRange() {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of this.series.values()) {
      for (let i = 0; i < s.x.length; i++) {
        if (s.x[i] < this.xmin || s.x[i] > this.xmax) continue;
        if (s.y[i] < lo) lo = s.y[i];
        if (s.y[i] > hi) hi = s.y[i];
      }
    }
    if (!Number.isFinite(lo)) return [0, 1];
    if (lo === hi) return [lo - 1, hi + 1];
    const m = (hi - lo) * 0.08;
    return [lo - m, hi + m];
  }

  draw() {
    this.dirty = false;
    this.frames += 1;
    const dpr = window.devicePixelRatio || 1;
    const a = this._area();
    if (this.canvas.width !== Math.round(a.w * dpr)) this.canvas.width = Math.round(a.w * dpr);
    if (this.canvas.height !== Math.round(a.h * dpr)) this.canvas.height = Math.round(a.h * dpr);
    const c = this.ctx;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, a.w, a.h);
    c.font = "11px system-ui, sans-serif";
    const [ylo, yhi] = this._yRange();
    const yToPx = (y) => a.y1 - ((y - ylo) / (yhi - ylo)) * (a.y1 - a.y0);

    // grid and value axis
    c.strokeStyle = "#e5e7eb";
    c.fillStyle = "#4b5563";
    c.lineWidth = 1;
    c.textAlign = "right";
    c.textBaseline = "middle";
    const ys = niceStep(yhi - ylo, 6);
    for (let v = Math.ceil(ylo / ys) * ys; v <= yhi; v += ys) {
      const py = Math.round(yToPx(v)) + 0.5;
      c.beginPath();
      c.moveTo(a.x0, py);
      c.lineTo(a.x1, py);
      c.stroke();
      c.fillText(Number(v.toPrecision(6)).toString(), a.x0 - 6, py);
    }
    // time axis
    const span = this.xmax - this.xmin;
    const want = Math.max(2, Math.floor((a.x1 - a.x0) / 110));
    const step = STEPS.find((s) => span / s <= want) || STEPS[STEPS.length - 1];
    const tz = new Date().getTimezoneOffset() * 60;
    c.textAlign = "center";
    c.textBaseline = "top";
    const first = step >= 86400 ? Math.ceil((this.xmin - tz) / step) * step + tz
      : Math.ceil(this.xmin / step) * step;
    for (let t = first; t <= this.xmax; t += step) {
      const px = Math.round(this._xToPx(t, a)) + 0.5;
      c.beginPath();
      c.moveTo(px, a.y0);
      c.lineTo(px, a.y1);
      c.stroke();
      const label = formatTick(t, step);
      const half = c.measureText(label).width / 2;
      if (px - half >= 0 && px + half <= a.w) c.fillText(label, px, a.y1 + 6);
    }
    c.strokeStyle = "#9ca3af";
    c.strokeRect(a.x0 + 0.5, a.y0 + 0.5, a.x1 - a.x0, a.y1 - a.y0);

    // series
    c.save();
    c.beginPath();
    c.rect(a.x0, a.y0, a.x1 - a.x0, a.y1 - a.y0);
    c.clip();
    for (const s of this.series.values()) {
      c.strokeStyle = s.color;
      c.lineWidth = 1.5;
      c.beginPath();
      let started = false;
      for (let i = 0; i < s.x.length; i++) {
        if (s.x[i] < this.xmin && i + 1 < s.x.length && s.x[i + 1] < this.xmin) continue;
        const px = this._xToPx(s.x[i], a);
        const py = yToPx(s.y[i]);
        if (started) c.lineTo(px, py);
        else c.moveTo(px, py);
        started = true;
        if (s.x[i] > this.xmax) break;
      }
      c.stroke();
      if (s.x.length === 1) {
        c.fillStyle = s.color;
        c.fillRect(this._xToPx(s.x[0], a) - 2, yToPx(s.y[0]) - 2, 4, 4);
      }
    }
    // events: a dashed vertical line and a label, coloured by priority
    c.setLineDash([4, 3]);
    c.textAlign = "left";
    c.textBaseline = "top";
    let labelRow = 0;
    for (const ev of this.events) {
      if (ev.x < this.xmin || ev.x > this.xmax) continue;
      const px = Math.round(this._xToPx(ev.x, a)) + 0.5;
      const col = PRIORITY_COLORS[ev.priority] || PRIORITY_COLORS[0];
      c.strokeStyle = col;
      c.beginPath();
      c.moveTo(px, a.y0);
      c.lineTo(px, a.y1);
      c.stroke();
      c.fillStyle = col;
      const label = String(ev.text).slice(0, 40);
      const ly = a.y0 + 3 + (labelRow % 4) * 13;
      // near the right edge the label goes to the left of its line
      if (px + 3 + c.measureText(label).width > a.x1) {
        c.textAlign = "right";
        c.fillText(label, px - 3, ly);
        c.textAlign = "left";
      } else {
        c.fillText(label, px + 3, ly);
      }
      labelRow += 1;
    }
    c.setLineDash([]);
    c.restore();

    // hover readout: a thin line and the nearest value of each series
    if (this.hover !== null && !this.drag && this.hover >= a.x0 && this.hover <= a.x1) {
      const t = this._pxToX(this.hover, a);
      c.strokeStyle = "#6b7280";
      c.beginPath();
      c.moveTo(this.hover + 0.5, a.y0);
      c.lineTo(this.hover + 0.5, a.y1);
      c.stroke();
      const rows = [formatTick(t, 1)];
      const colors = ["#111827"];
      for (const [k, [, y]] of Object.entries(this.valuesAt(t))) {
        const s = this.series.get(k);
        rows.push(`${k}: ${Number(y.toPrecision(6))}${s.unit ? ` ${s.unit}` : ""}`);
        colors.push(s.color);
      }
      const w = Math.max(...rows.map((r) => c.measureText(r).width)) + 10;
      const bx = this.hover + 8 + w > a.x1 ? this.hover - 8 - w : this.hover + 8;
      c.fillStyle = "rgba(255, 255, 255, 0.92)";
      c.fillRect(bx, a.y1 - 8 - rows.length * 14, w, rows.length * 14 + 4);
      c.textAlign = "left";
      c.textBaseline = "top";
      rows.forEach((r, i) => {
        c.fillStyle = colors[i];
        c.fillText(r, bx + 5, a.y1 - 6 - (rows.length - i) * 14);
      });
    }

    // drag selection
    if (this.drag && Math.abs(this.drag.x1 - this.drag.x0) > 2) {
      c.fillStyle = "rgba(37, 99, 235, 0.15)";
      const l = Math.min(this.drag.x0, this.drag.x1);
      c.fillRect(l, a.y0, Math.abs(this.drag.x1 - this.drag.x0), a.y1 - a.y0);
    }
  }

  _bind() {
    const cv = this.canvas;
    const local = (e) => {
      const r = cv.getBoundingClientRect();
      return e.clientX - r.left;
    };
    cv.addEventListener("pointerdown", (e) => {
      this.drag = { x0: local(e), x1: local(e) };
    });
    this._onMove = (e) => {
      if (!this.drag) return;
      this.drag.x1 = local(e);
      this.dirty = true;
    };
    window.addEventListener("pointermove", this._onMove);
    cv.addEventListener("pointermove", (e) => {
      this.hover = local(e);
      this.dirty = true;
    });
    cv.addEventListener("pointerleave", () => {
      this.hover = null;
      this.dirty = true;
    });
    this._onUp = () => {
      const d = this.drag;
      this.drag = null;
      this.dirty = true;
      if (!d || Math.abs(d.x1 - d.x0) < 5) return;
      const a = this._area();
      const lo = Math.max(a.x0, Math.min(d.x0, d.x1));
      const hi = Math.min(a.x1, Math.max(d.x0, d.x1));
      const xmin = this._pxToX(lo, a);
      const xmax = this._pxToX(hi, a);
      this.setRange(xmin, xmax);
      this.onRange(xmin, xmax);
    };
    window.addEventListener("pointerup", this._onUp);
    cv.addEventListener("dblclick", () => {
      this.setLive();
      this.onLive(this.span);
    });
    cv.addEventListener("wheel", (e) => {
      e.preventDefault();
      const a = this._area();
      const at = this._pxToX(local(e), a);
      const f = e.deltaY > 0 ? 1.5 : 1 / 1.5;
      this.setRange(at - (at - this.xmin) * f, at + (this.xmax - at) * f);
      clearTimeout(this._wheelTimer);
      this._wheelTimer = setTimeout(() => this.onRange(this.xmin, this.xmax), 250);
    }, { passive: false });
    if (window.ResizeObserver) {
      this._ro = new ResizeObserver(() => {
        this.dirty = true;
      });
      this._ro.observe(cv);
    }
  }
}
