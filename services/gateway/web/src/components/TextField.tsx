import type { ChangeEvent } from "react";

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: "text" | "email" | "password";
  autoComplete?: string;
  error?: string;
}

/** A labelled input whose error is read out with it. data-testid: `${id}` and `${id}-error`. */
export function TextField({ id, label, value, onChange, type = "text", autoComplete, error }: TextFieldProps) {
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={id}
        type={type}
        value={value}
        autoComplete={autoComplete}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        data-testid={id}
        onChange={(event: ChangeEvent<HTMLInputElement>) => onChange(event.target.value)}
      />
      {error && (
        <p id={errorId} className="field-error" data-testid={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}
