import { type FormEvent, useEffect, useState } from "react";
import { Link, Navigate } from "react-router-dom";
import { ErrorMessage } from "../components/ErrorMessage";
import { TextField } from "../components/TextField";
import { describeError, requiredFieldErrors, serverFieldErrors } from "../errors";
import { t } from "../i18n";
import { clearAuthErrors, signup } from "../slices/auth";
import { useAppDispatch, useAppSelector } from "../store";

/** The gateway's 409 details, each tied to the field it is about. */
const CONFLICTS: Record<string, { field: string; message: () => string }> = {
  "username already used": { field: "username", message: () => t("signup.usernameUsed") },
  "email already used": { field: "email", message: () => t("signup.emailUsed") },
};

export function SignupPage() {
  const dispatch = useAppDispatch();
  const { session, pending, signupError } = useAppSelector((state) => state.auth);
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [emptyErrors, setEmptyErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    dispatch(clearAuthErrors());
  }, [dispatch]);

  if (session === "authenticated") return <Navigate to="/live" replace />;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const missing = requiredFieldErrors({ username, email, password });
    setEmptyErrors(missing);
    if (Object.keys(missing).length === 0) void dispatch(signup({ username, email, password }));
  };

  const fieldErrors = { ...serverFieldErrors(signupError), ...emptyErrors };
  let formError: string | null = null;
  if (signupError?.status === 409) {
    const conflict = CONFLICTS[signupError.message];
    if (conflict) fieldErrors[conflict.field] ??= conflict.message();
    else formError = describeError(signupError);
  } else if (signupError && signupError.status !== 422) {
    formError = describeError(signupError);
  }

  return (
    <main className="auth-page">
      <h1>{t("signup.title")}</h1>
      <form onSubmit={onSubmit} noValidate data-testid="signup-form">
        <TextField
          id="signup-username"
          label={t("login.username")}
          value={username}
          onChange={setUsername}
          autoComplete="username"
          error={fieldErrors.username}
        />
        <TextField
          id="signup-email"
          label={t("signup.email")}
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          error={fieldErrors.email}
        />
        <TextField
          id="signup-password"
          label={t("login.password")}
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          error={fieldErrors.password}
        />
        <ErrorMessage message={formError} testId="signup-error" />
        <button type="submit" className="primary" disabled={pending} data-testid="signup-submit">
          {t("signup.submit")}
        </button>
      </form>
      <p>
        {t("signup.haveAccount")} <Link to="/login">{t("signup.toLogin")}</Link>
      </p>
    </main>
  );
}
