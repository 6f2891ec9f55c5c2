import { type UnknownAction, createAsyncThunk, createSlice } from "@reduxjs/toolkit";
import { type ApiErrorInfo, api, setBearerToken, toErrorInfo } from "../api";
import type { User } from "../types";
import { apiThunk, isApiErrorInfo } from "./apiThunk";

export type Session = "unknown" | "anonymous" | "authenticated";

export interface AuthState {
  user: User | null;
  session: Session;
  pending: boolean;
  loginError: ApiErrorInfo | null;
  signupError: ApiErrorInfo | null;
  sessionExpired: boolean;
}

export const initialAuthState: AuthState = {
  user: null,
  session: "unknown",
  pending: false,
  loginError: null,
  signupError: null,
  sessionExpired: false,
};

/** On page load the httpOnly cookie, if any, tells who is logged in. */
export const loadMe = apiThunk("auth/loadMe", () => api.me());

export const login = apiThunk("auth/login", async (credentials: { username: string; password: string }) => {
  const { access_token } = await api.login(credentials.username, credentials.password);
  setBearerToken(access_token);
  return api.me();
});

/** Signs up, then logs in with the same credentials. */
export const signup = createAsyncThunk<
  User,
  { username: string; email: string; password: string },
  { rejectValue: ApiErrorInfo }
>("auth/signup", async ({ username, email, password }, { dispatch, rejectWithValue }) => {
  try {
    await api.signup(username, email, password);
  } catch (error) {
    return rejectWithValue(toErrorInfo(error));
  }
  const result = await dispatch(login({ username, password }));
  if (login.rejected.match(result)) return rejectWithValue(result.payload ?? toErrorInfo(result.error));
  return result.payload;
});

export const logout = createAsyncThunk("auth/logout", async () => {
  setBearerToken(null);
  try {
    await api.logout(); // clears the httpOnly cookie, which JavaScript cannot
  } catch {
    // Logged out here either way; the cookie expires on its own.
  }
});

/** A 401 from any other request means the session ended (expired token, deleted user). */
function isUnauthorized(action: UnknownAction): boolean {
  const payload = (action as { payload?: unknown }).payload;
  return !action.type.startsWith("auth/") && isApiErrorInfo(payload) && payload.status === 401;
}

const authSlice = createSlice({
  name: "auth",
  initialState: initialAuthState,
  reducers: {
    clearAuthErrors(state) {
      state.loginError = null;
      state.signupError = null;
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(loadMe.fulfilled, (state, action) => {
        state.user = action.payload;
        state.session = "authenticated";
      })
      .addCase(loadMe.rejected, (state) => {
        state.user = null;
        state.session = "anonymous";
      })
      .addCase(login.pending, (state) => {
        state.pending = true;
        state.loginError = null;
      })
      .addCase(login.fulfilled, (state, action) => {
        state.pending = false;
        state.user = action.payload;
        state.session = "authenticated";
        state.sessionExpired = false;
      })
      .addCase(login.rejected, (state, action) => {
        state.pending = false;
        state.loginError = action.payload ?? toErrorInfo(action.error);
      })
      .addCase(signup.pending, (state) => {
        state.pending = true;
        state.signupError = null;
      })
      .addCase(signup.fulfilled, (state) => {
        state.pending = false;
      })
      .addCase(signup.rejected, (state, action) => {
        state.pending = false;
        state.signupError = action.payload ?? toErrorInfo(action.error);
      })
      .addCase(logout.fulfilled, () => ({ ...initialAuthState, session: "anonymous" }))
      .addMatcher(isUnauthorized, (state) => {
        state.user = null;
        state.session = "anonymous";
        state.sessionExpired = true;
      });
  },
});

export const { clearAuthErrors } = authSlice.actions;
export default authSlice.reducer;
