import { t } from "../i18n";
import { formatScore } from "../format";
import type { Culprit } from "../types";

/** Each person involved: the crop, and the face or the reason there is none. */
export function CulpritList({ culprits }: { culprits: Culprit[] }) {
  return (
    <ul className="culprits" data-testid="culprit-list">
      {culprits.map((culprit) => (
        <li key={culprit.track_id} className="culprit" data-testid="culprit" data-track-id={culprit.track_id}>
          <h4>
            {t("event.culprit", { id: culprit.track_id })}{" "}
            <span className="muted">{t("event.culpritScore", { score: formatScore(culprit.score) })}</span>
          </h4>
          <div className="culprit-images">
            <img
              src={culprit.crop_url}
              alt={t("event.crop", { id: culprit.track_id })}
              data-testid="culprit-crop"
              loading="lazy"
            />
            {culprit.face_missing || !culprit.face_url ? (
              <p className="face-missing" data-testid="culprit-face-missing">
                {t("event.faceMissing")}
              </p>
            ) : (
              <img
                src={culprit.face_url}
                alt={t("event.face", { id: culprit.track_id })}
                data-testid="culprit-face"
                loading="lazy"
              />
            )}
          </div>
        </li>
      ))}
    </ul>
  );
}
