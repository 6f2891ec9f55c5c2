import { useEffect, useRef } from "react";
import { t } from "../i18n";

interface ConfirmDialogProps {
  open: boolean;
  title: string;
  body: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** A modal <dialog>: the browser keeps focus inside it and Escape cancels it. */
export function ConfirmDialog({ open, title, body, busy = false, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);

  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby="confirm-title"
      data-testid="confirm-dialog"
      onCancel={(event) => {
        event.preventDefault(); // the parent's `open` decides when it closes
        onCancel();
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <p>{body}</p>
      <div className="actions">
        <button type="button" onClick={onCancel} data-testid="confirm-cancel" autoFocus>
          {t("confirm.cancel")}
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy} data-testid="confirm-ok">
          {t("confirm.delete")}
        </button>
      </div>
    </dialog>
  );
}
