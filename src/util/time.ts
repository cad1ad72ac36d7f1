/** Milliseconds as a short human duration: `850ms`, `12.3s`, `4m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** RFC 3339 with microseconds: the API server rejects Lease times with milliseconds only. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A UTC time for object names: `202612012210` (minute) or `20261201221030` (second). */
export function compactTime(ms: number, precision: 'minute' | 'second'): string {
  return new Date(ms).toISOString().slice(0, precision === 'minute' ? 16 : 19).replace(/[-T:]/g, '');
}

/** Milliseconds as kubectl prints an age: `45s`, `12m`, `5h`, `3d`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
