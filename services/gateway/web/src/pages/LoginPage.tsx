import { type FormEvent, useEffect, useState } from "react";
import { Link, Navigate, useLocation } from "react-router-dom";
import { ErrorMessage } from "../components/ErrorMessage";
import { TextField } from "../components/TextField";
import { describeError, requiredFieldErrors, serverFieldErrors } from "../errors";
import { t } from "../i18n";
import { clearAuthErrors, login } from "../slices/auth";
import { useAppDispatch, useAppSelector } from "../store";

export function LoginPage() {
  const dispatch = useAppDispatch();
  const location = useLocation();
  const { session, pending, loginError, sessionExpired } = useAppSelector((state) => state.auth);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [emptyErrors, setEmptyErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    dispatch(clearAuthErrors());
  }, [dispatch]);

  if (session === "authenticated") {
    const from = (location.state as { from?: string } | null)?.from ?? "/live";
    return <Navigate to={from} replace />;
  }

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const missing = requiredFieldErrors({ username, password });
    setEmptyErrors(missing);
    if (Object.keys(missing).length === 0) void dispatch(login({ username, password }));
  };

  const fieldErrors = { ...serverFieldErrors(loginError), ...emptyErrors };
  let formError: string | null = null;
  if (loginError?.status === 401) formError = t("login.wrong");
  else if (loginError?.status === 429) formError = t("login.tooMany");
  else if (loginError && loginError.status !== 422) formError = describeError(loginError);

  return (
    <main className="auth-page">
      <h1>{t("login.title")}</h1>
      {sessionExpired && <p className="notice">{t("login.sessionExpired")}</p>}
      <form onSubmit={onSubmit} noValidate data-testid="login-form">
        <TextField
          id="login-username"
          label={t("login.username")}
          value={username}
          onChange={setUsername}
          autoComplete="username"
          error={fieldErrors.username}
        />
        <TextField
          id="login-password"
          label={t("login.password")}
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="current-password"
          error={fieldErrors.password}
        />
        <ErrorMessage message={formError} testId="login-error" />
        <button type="submit" className="primary" disabled={pending} data-testid="login-submit">
          {t("login.submit")}
        </button>
      </form>
      <p>
        {t("login.noAccount")} <Link to="/signup">{t("login.toSignup")}</Link>
      </p>
    </main>
  );
}
