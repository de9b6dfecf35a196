/**
 * A modal confirmation on the native <dialog>: focus moves into it and is trapped there, Escape
 * cancels, focus returns to what opened it. Optionally asks for a reason (required or not).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** Ask for a reason; `required` refuses to confirm without one. */
  reason?: { label: string; required: boolean };
  danger?: boolean;
  busy?: boolean;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const [reason, setReason] = useState('');
  const id = useId();

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (props.open && !element.open) {
      opener.current = document.activeElement as HTMLElement | null;
      setReason('');
      element.showModal();
    } else if (!props.open && element.open) {
      element.close();
      opener.current?.focus();
    }
  }, [props.open]);

  const blocked = props.busy || (props.reason?.required === true && reason.trim() === '');
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-body`}
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          if (!blocked) props.onConfirm(reason.trim());
        }}
      >
        <h2 id={`${id}-title`}>{props.title}</h2>
        <div id={`${id}-body`}>{props.children}</div>
        {props.reason && (
          <p class="field">
            <label for={`${id}-reason`}>
              {props.reason.label}
              {props.reason.required ? ' (required)' : ' (optional)'}
            </label>
            <input
              id={`${id}-reason`}
              type="text"
              value={reason}
              maxLength={500}
              required={props.reason.required}
              onInput={(event) => setReason(event.currentTarget.value)}
            />
          </p>
        )}
        <div class="actions">
          <button type="button" class="secondary" onClick={() => props.onCancel()}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'} disabled={blocked}>
            {props.busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
