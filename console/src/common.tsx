import { useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { ApiError } from './api';

/** An event handler from an async function, whose errors it handles itself. */
export function handle<A extends unknown[]>(action: (...args: A) => Promise<unknown>): (...args: A) => void {
  return (...args) => void action(...args);
}

/** A failed call's message, and the fields the server named. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const fields = error instanceof ApiError ? error.fields : [];
  return (
    <div class="error" role="alert">
      <p>{message}</p>
      {fields.length > 1 && (
        <ul>
          {fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A secret or token shown once, with a button that copies it. */
export function ShownOnce({ label, value, children }: { label: string; value: string; children?: ComponentChildren }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // Clipboard access needs a secure context; the value stays selectable.
      setCopied(false);
    }
  };
  return (
    <section class="shown-once" aria-label={label}>
      <h3>{label}</h3>
      <p>Copy it now: it is shown once and cannot be seen again.</p>
      <div class="secret-row">
        <code data-testid="shown-once-value">{value}</code>
        <button type="button" onClick={handle(copy)}>
          Copy
        </button>
        <span role="status">{copied ? 'Copied' : ''}</span>
      </div>
      {children}
    </section>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const word = { PENDING: 'Pending', RETRYING: 'Retrying', SUCCEEDED: 'Succeeded', FAILED: 'Failed', CANCELLED: 'Cancelled' }[status] ?? status;
  return <span class={`badge status-${status.toLowerCase()}`}>{word}</span>;
}

export function Loading() {
  return <p aria-live="polite">Loading…</p>;
}
