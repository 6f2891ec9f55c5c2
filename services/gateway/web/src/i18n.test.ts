import { describe, expect, it } from "vitest";
import { TABLES, makeTranslator, pickLanguage, pluralKey } from "./i18n";

describe("pickLanguage", () => {
  it.each([
    [["fr-FR", "en"], "fr"],
    [["de-DE", "fr-CA"], "fr"],
    [["en-GB", "fr"], "en"],
    [["de", "es"], "en"],
    [[], "en"],
    [undefined, "en"],
  ])("%j -> %s", (preferred, expected) => {
    expect(pickLanguage(preferred)).toBe(expected);
  });
});

describe("tables", () => {
  it("every language has every English key, none empty", () => {
    const keys = Object.keys(TABLES.en).sort();
    for (const [language, table] of Object.entries(TABLES)) {
      expect(Object.keys(table).sort(), language).toEqual(keys);
      expect(Object.values(table).filter((text) => !text.trim()), language).toEqual([]);
    }
  });

  it("every language keeps the placeholders of the English text", () => {
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
    for (const [key, english] of Object.entries(TABLES.en)) {
      for (const table of Object.values(TABLES)) {
        expect(placeholders(table[key as keyof typeof TABLES.en]), key).toEqual(placeholders(english));
      }
    }
  });
});

describe("makeTranslator", () => {
  it("fills placeholders and leaves unknown ones visible", () => {
    const t = makeTranslator("fr");
    expect(t("repo.pageOf", { page: 2, pages: 5 })).toBe("Page 2 sur 5");
    expect(t("repo.pageOf", { page: 2 })).toBe("Page 2 sur {pages}");
  });

  it("falls back to English for a language without a table", () => {
    expect(makeTranslator("xx")("login.title")).toBe("Log in");
  });

  it("says the face text the browser tests look for", () => {
    expect(makeTranslator("en")("event.faceMissing")).toBe("no face could be extracted (occluded)");
  });
});

describe("pluralKey", () => {
  it.each([
    ["en", 0, "repo.count"],
    ["en", 1, "repo.countOne"],
    ["en", 2, "repo.count"],
    ["fr", 0, "repo.countOne"],
    ["fr", 1, "repo.countOne"],
    ["fr", 2, "repo.count"],
  ] as const)("%s %i -> %s", (lang, count, expected) => {
    expect(pluralKey(count, "repo.countOne", "repo.count", lang)).toBe(expected);
  });
});
