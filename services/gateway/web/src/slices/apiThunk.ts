import { createAsyncThunk } from "@reduxjs/toolkit";
import { type ApiErrorInfo, toErrorInfo } from "../api";

/** createAsyncThunk whose rejection carries the API error as plain data (`action.payload`). */
export function apiThunk<Returned, Arg = void>(
  type: string,
  run: (arg: Arg, signal: AbortSignal) => Promise<Returned>,
) {
  return createAsyncThunk<Returned, Arg, { rejectValue: ApiErrorInfo }>(
    type,
    async (arg, { rejectWithValue, signal }) => {
      try {
        return await run(arg, signal);
      } catch (error) {
        return rejectWithValue(toErrorInfo(error));
      }
    },
  );
}

export function isApiErrorInfo(value: unknown): value is ApiErrorInfo {
  const info = value as ApiErrorInfo | null;
  return (
    typeof info === "object" &&
    info !== null &&
    typeof info.status === "number" &&
    typeof info.message === "string" &&
    typeof info.fieldErrors === "object"
  );
}
