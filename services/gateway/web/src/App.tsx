import { useEffect } from "react";
import { NavLink, Navigate, Outlet, Route, Routes, useLocation } from "react-router-dom";
import { type MessageKey, t } from "./i18n";
import { CamerasPage } from "./pages/CamerasPage";
import { EventPage } from "./pages/EventPage";
import { LivePage } from "./pages/LivePage";
import { LoginPage } from "./pages/LoginPage";
import { RepositoryPage } from "./pages/RepositoryPage";
import { SignupPage } from "./pages/SignupPage";
import { UploadPage } from "./pages/UploadPage";
import { loadMe, logout } from "./slices/auth";
import { useAppDispatch, useAppSelector } from "./store";

export function App() {
  const dispatch = useAppDispatch();
  const session = useAppSelector((state) => state.auth.session);

  useEffect(() => {
    void dispatch(loadMe());
  }, [dispatch]);

  if (session === "unknown") {
    return (
      <p className="loading" role="status">
        {t("app.loading")}
      </p>
    );
  }

  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route element={<SignedInLayout />}>
        <Route path="/live" element={<LivePage />} />
        <Route path="/upload" element={<UploadPage />} />
        <Route path="/repository" element={<RepositoryPage />} />
        <Route path="/repository/:eventId" element={<EventPage />} />
        <Route path="/cameras" element={<CamerasPage />} />
      </Route>
      <Route path="*" element={<Navigate to="/live" replace />} />
    </Routes>
  );
}

/** The pages behind login: the header and navigation, or a trip to the login page. */
function SignedInLayout() {
  const dispatch = useAppDispatch();
  const location = useLocation();
  const user = useAppSelector((state) => state.auth.user);

  if (!user) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }

  return (
    <>
      <a className="skip-link" href="#content">
        {t("nav.skip")}
      </a>
      <header className="app-header">
        <span className="brand">{t("app.title")}</span>
        <nav aria-label={t("nav.main")}>
          <NavLink to="/live" data-testid="nav-live">
            {t("nav.live")}
          </NavLink>
          <NavLink to="/upload" data-testid="nav-upload">
            {t("nav.upload")}
          </NavLink>
          <NavLink to="/repository" data-testid="nav-repository">
            {t("nav.repository")}
          </NavLink>
          {user.role === "admin" && (
            <NavLink to="/cameras" data-testid="nav-cameras">
              {t("nav.cameras")}
            </NavLink>
          )}
        </nav>
        <span className="user" data-testid="current-user" data-role={user.role}>
          {t("nav.signedInAs", { username: user.username, role: t(`role.${user.role}` as MessageKey) })}
        </span>
        <button type="button" onClick={() => void dispatch(logout())} data-testid="logout">
          {t("nav.logout")}
        </button>
      </header>
      <div id="content" tabIndex={-1}>
        <Outlet />
      </div>
    </>
  );
}
