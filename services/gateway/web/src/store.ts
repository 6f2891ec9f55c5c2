import { type ThunkAction, type UnknownAction, configureStore } from "@reduxjs/toolkit";
import { type TypedUseSelectorHook, useDispatch, useSelector } from "react-redux";
import auth from "./slices/auth";
import cameras from "./slices/cameras";
import events from "./slices/events";
import live from "./slices/live";
import uploads from "./slices/uploads";

export const reducer = { auth, cameras, live, uploads, events };

export function makeStore() {
  return configureStore({ reducer });
}

export type AppStore = ReturnType<typeof makeStore>;
export type RootState = ReturnType<AppStore["getState"]>;
export type AppDispatch = AppStore["dispatch"];
export type AppThunk<R = void> = ThunkAction<R, RootState, unknown, UnknownAction>;

export const useAppDispatch: () => AppDispatch = useDispatch;
export const useAppSelector: TypedUseSelectorHook<RootState> = useSelector;
