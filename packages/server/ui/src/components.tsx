import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { type Scope, useCan } from "./session";

export function ErrorNote({ error }: { error: Error | null }) {
  if (!error) return null;
  const code = error instanceof ApiError ? `${error.code}: ` : "";
  return (
    <p class="error" role="alert">
      {code}
      {error.message}
    </p>
  );
}

/**
 * A button for an action that needs a scope: disabled, with the reason said, when the token
 * lacks it (the server refuses such a call anyway; this only spares the click).
 */
export function ActionButton(props: {
  scope: Scope;
  onClick: () => void;
  children: ComponentChildren;
  danger?: boolean;
  disabled?: boolean;
  label?: string;
}) {
  const can = useCan(props.scope);
  const reason = can ? undefined : `needs a token with the ${props.scope} scope`;
  return (
    <button
      type="button"
      class={props.danger ? "danger" : undefined}
      disabled={!can || props.disabled}
      title={reason}
      aria-label={props.label}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  );
}

/** A modal confirmation (the native <dialog>: focus kept inside, Escape cancels). */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={props.onCancel}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** Says what an action did, politely, for screen readers too. */
export function useNotice(): [ComponentChildren, (text: string) => void] {
  const [text, setText] = useState("");
  const note = (
    <p class="notice" role="status" aria-live="polite">
      {text}
    </p>
  );
  return [note, setText];
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}
