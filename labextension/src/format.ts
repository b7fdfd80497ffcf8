/**
 * Pure text of the panel's figures and times: countdowns, durations, start times, bytes,
 * accelerators and cost figures. No DOM, no server.
 */
import { IFigure } from './types';

/** "4:05" (minutes:seconds), "1:02:03" past an hour, "expired" at or after `expires`. */
export function countdownText(expires: string, now: number): string {
  const end = Date.parse(expires);
  if (Number.isNaN(end)) {
    return '—';
  }
  const left = Math.floor((end - now) / 1000);
  if (left <= 0) {
    return 'expired';
  }
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Whether an offer can no longer be accepted. */
export function isExpired(expires: string, now: number): boolean {
  const end = Date.parse(expires);
  return !Number.isNaN(end) && end <= now;
}

/** "45 s", "0.31 s" (under 10 s, two decimals). */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return '?';
  }
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${Math.round(seconds)} s`;
}

/** A duration in seconds as "45 min", "1 h", "2 h 30 min", "20 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '—';
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) {
    return `${m} min`;
  }
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** A start time relative to now: "now" (past or within a minute), "in 12 min", "in 3 h 5 min". */
export function formatStart(start: string, now: number): string {
  const t = Date.parse(start);
  if (Number.isNaN(t)) {
    return '—';
  }
  const ahead = (t - now) / 1000;
  if (ahead < 60) {
    return 'now';
  }
  return `in ${formatDuration(ahead)}`;
}

/** "1.2 GB", "340 MB", "12 kB", "512 B" (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** "1× nvidia.com/gpu", several joined by ", "; "—" for none. */
export function formatAccelerators(
  accelerators: Record<string, number> | undefined
): string {
  const parts = Object.entries(accelerators ?? {})
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${count}× ${name}`);
  return parts.length ? parts.join(', ') : '—';
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** A figure as "0.12 EUR" or "0.10–0.12 EUR" (a range), unit omitted when unknown. */
export function formatFigure(f: IFigure): string {
  const unit = f.unit ? ` ${f.unit}` : '';
  const { min, max } = f;
  if (min !== null && max !== null && min !== max) {
    return `${formatNumber(min)}–${formatNumber(max)}${unit}`;
  }
  const value = max ?? min;
  return value === null ? '—' : `${formatNumber(value)}${unit}`;
}
