// Line charts drawn as inline SVG: a few dozen points per chart do not earn a charting library.
// Charts are drawn at their container's real pixel width (and redrawn when it changes) rather
// than scaled from a fixed viewBox, so axis labels stay legible on a phone.
import { h, svg } from "./dom.js";

const MARGIN = { top: 12, right: 12, bottom: 26, left: 52 };

/** Rounds a maximum up to 1, 2 or 5 times a power of ten, so tick labels are round numbers. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value) ?? 10;
  return step * power;
}

function timeLabel(ms, spanMs) {
  const date = new Date(ms);
  return spanMs > 2 * 86_400_000
    ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * spec: { times: number[], series: [{ label, tone, values: (number|null)[] }], yMax?, formatY(value) }
 * A null value is a gap: no line is drawn through a bucket with no attempts.
 */
export function drawLineChart(spec, width, height = 200) {
  const innerW = Math.max(width - MARGIN.left - MARGIN.right, 10);
  const innerH = height - MARGIN.top - MARGIN.bottom;
  const count = spec.times.length;
  const all = spec.series.flatMap((s) => s.values).filter((v) => v !== null);
  const yMax = spec.yMax ?? niceMax(Math.max(0, ...all));
  const x = (i) => MARGIN.left + (count <= 1 ? innerW / 2 : (i / (count - 1)) * innerW);
  const y = (v) => MARGIN.top + innerH - (v / yMax) * innerH;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((share) =>
    svg(
      "g",
      { class: "chart-grid" },
      svg("line", { x1: MARGIN.left, x2: MARGIN.left + innerW, y1: y(share * yMax), y2: y(share * yMax) }),
      svg("text", { x: MARGIN.left - 6, y: y(share * yMax) + 4, "text-anchor": "end" }, spec.formatY(share * yMax)),
    ),
  );
  const spanMs = count > 1 ? spec.times[count - 1] - spec.times[0] : 0;
  const labelEvery = Math.max(1, Math.ceil(count / Math.max(2, Math.floor(innerW / 90))));
  const xLabels = spec.times
    .map((t, i) => (i % labelEvery === 0 ? svg("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "chart-axis" }, timeLabel(t, spanMs)) : null))
    .filter(Boolean);

  const lines = spec.series.map((series) => {
    // Consecutive non-null points form one segment; a gap starts a new "M".
    let d = "";
    let open = false;
    series.values.forEach((value, i) => {
      if (value === null) {
        open = false;
        return;
      }
      d += `${open ? "L" : "M"}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
      open = true;
    });
    const points = series.values.map((value, i) =>
      value === null
        ? null
        : svg("circle", { cx: x(i), cy: y(value), r: 2.5 }, svg("title", null, `${series.label}: ${spec.formatY(value)} at ${new Date(spec.times[i]).toLocaleString()}`)),
    );
    return svg("g", { class: `chart-series tone-${series.tone}` }, svg("path", { d }), points.filter(Boolean));
  });

  return svg(
    "svg",
    { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": spec.title, class: "chart" },
    svg("title", null, spec.title),
    grid,
    xLabels,
    lines,
  );
}

/** A titled chart with a legend that redraws to fit its box. Returns the container element. */
export function lineChartPanel(spec) {
  const canvas = h("div", { class: "chart-canvas" });
  const panel = h(
    "figure",
    { class: "panel chart-panel", "data-testid": spec.testId ?? null },
    h("figcaption", null, h("span", null, spec.title), h("span", { class: "legend" }, spec.series.map((s) => h("span", { class: `legend-item tone-${s.tone}` }, s.label)))),
    canvas,
  );
  const hasData = spec.series.some((s) => s.values.some((v) => v !== null));
  let lastWidth = 0;
  const draw = () => {
    const width = Math.floor(canvas.clientWidth);
    if (width === lastWidth || width === 0) return;
    lastWidth = width;
    canvas.replaceChildren(hasData ? drawLineChart(spec, width) : h("p", { class: "muted chart-empty" }, "No attempts in this period."));
  };
  new ResizeObserver(draw).observe(canvas);
  return panel;
}
