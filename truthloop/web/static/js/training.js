// How the model pages show a training's progress (models.js, model_version.js).

// "1 min 5 s" from seconds; "–" when unknown.
export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 60) return `${value.toFixed(1)} s`;
  const total = Math.round(value);
  return `${Math.floor(total / 60)} min ${total % 60} s`;
}

// One line saying where a training is: phase, epoch, loss, time spent and left.
export function progressText(p) {
  if (!p) return "waiting for the first step";
  const parts = [p.phase];
  if (p.epochs) parts.push(`epoch ${p.epoch}/${p.epochs}`);
  if (typeof p.loss === "number") parts.push(`loss ${p.loss.toFixed(4)}`);
  parts.push(`elapsed ${seconds(p.elapsed_s)}`);
  if (p.remaining_s !== null && p.remaining_s !== undefined) parts.push(`${seconds(p.remaining_s)} left`);
  return parts.join(" · ");
}
