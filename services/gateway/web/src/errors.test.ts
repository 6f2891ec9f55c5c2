import { describe, expect, it } from "vitest";
import { describeError, describeFieldError, requiredFieldErrors, serverFieldErrors } from "./errors";
import { makeTranslator } from "./i18n";

const t = makeTranslator("en");

describe("describeError", () => {
  it.each([
    [0, "x", t("error.network")],
    [403, "admin role required", t("error.forbidden")],
    [404, "event not found", t("error.notFound")],
    [503, "x", t("error.server", { status: 503 })],
    [409, "camera name already used", "Something went wrong: camera name already used"],
  ])("status %i", (status, message, expected) => {
    expect(describeError({ status, message, fieldErrors: {} }, t)).toBe(expected);
  });
});

describe("describeFieldError", () => {
  it.each([
    ["missing", "Field required", t("field.required")],
    ["string_too_short", "String should have at least 8 characters", t("field.tooShort")],
    ["string_too_long", "String should have at most 32 characters", t("field.tooLong")],
    ["value_error", "value is not a valid email address: ...", t("field.invalidEmail")],
    ["value_error", "passwords must differ", "passwords must differ"],
    ["string_pattern_mismatch", "String should match pattern", t("field.invalid")],
    ["something_new", "Server says so", "Server says so"],
  ])("%s", (type, message, expected) => {
    expect(describeFieldError({ type, message }, t)).toBe(expected);
  });
});

describe("form errors", () => {
  it("marks empty and blank fields as required", () => {
    expect(requiredFieldErrors({ username: "", email: "  ", password: "x" }, t)).toEqual({
      username: t("field.required"),
      email: t("field.required"),
    });
  });

  it("reads field errors from a 422 only", () => {
    const fieldErrors = { email: { type: "value_error", message: "not an email" } };
    expect(serverFieldErrors({ status: 422, message: "", fieldErrors }, t)).toEqual({ email: t("field.invalidEmail") });
    expect(serverFieldErrors({ status: 409, message: "", fieldErrors }, t)).toEqual({});
    expect(serverFieldErrors(null, t)).toEqual({});
  });
});
