// Turns API errors into sentences for people.
import type { ApiErrorInfo, FieldError } from "./api";
import { type Translate, t as defaultT } from "./i18n";

export function describeError(error: ApiErrorInfo, t: Translate = defaultT): string {
  if (error.status === 0) return t("error.network");
  if (error.status === 403) return t("error.forbidden");
  if (error.status === 404) return t("error.notFound");
  if (error.status >= 500) return t("error.server", { status: error.status });
  return t("error.generic", { message: error.message });
}

/** Pydantic's error types, in the user's language; its English message otherwise. */
export function describeFieldError(error: FieldError, t: Translate = defaultT): string {
  switch (error.type) {
    case "missing":
      return t("field.required");
    case "string_too_short":
      return t("field.tooShort");
    case "string_too_long":
      return t("field.tooLong");
    case "value_error":
      return /e-?mail/i.test(error.message) ? t("field.invalidEmail") : error.message;
    case "string_pattern_mismatch":
      return t("field.invalid");
    default:
      return error.message || t("field.invalid");
  }
}

/** Field errors to show: empty fields found here first, then those the server gave back. */
export function requiredFieldErrors(values: Record<string, string>, t: Translate = defaultT): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (!value.trim()) errors[name] = t("field.required");
  }
  return errors;
}

export function serverFieldErrors(error: ApiErrorInfo | null, t: Translate = defaultT): Record<string, string> {
  const errors: Record<string, string> = {};
  if (error?.status !== 422) return errors;
  for (const [name, fieldError] of Object.entries(error.fieldErrors)) {
    errors[name] = describeFieldError(fieldError, t);
  }
  return errors;
}
