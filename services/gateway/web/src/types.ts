// The JSON shapes of the gateway API, as written down in docs/api.md.

export type Role = "admin" | "viewer";

export interface User {
  username: string;
  email: string;
  role: Role;
}

export interface LoginResponse {
  access_token: string;
  token_type: "bearer";
}

export type CameraStatus = "idle" | "live" | "reconnecting" | "error";

export interface Camera {
  id: string;
  name: string;
  source: string;
  status: CameraStatus;
  error_reason: string | null;
}

export interface Culprit {
  track_id: number;
  score: number;
  crop_url: string;
  face_url: string | null;
  face_missing: boolean;
}

export type EventStatus = "open" | "ready" | "failed";

export interface VigilEvent {
  id: string;
  camera_id: string | null;
  source_kind: "camera" | "upload";
  job_id: string | null;
  started_at: string;
  ended_at: string | null;
  start_frame: number;
  start_offset_s: number | null;
  end_offset_s: number | null;
  scores: { peak: number; mean: number };
  culprits: Culprit[];
  clip_url: string | null;
  poster_url: string | null;
  status: EventStatus;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export type JobStatus = "queued" | "running" | "done" | "failed";

export interface JobReport {
  violent: boolean;
  events: VigilEvent[];
  annotated_url: string;
}

export interface Job {
  id: string;
  filename: string;
  status: JobStatus;
  progress: number;
  error: string | null;
  created_at: string;
  report: JobReport | null;
}

export interface UploadAccepted {
  job_id: string;
}

export interface OverlayBox {
  track_id: number;
  box: [number, number, number, number];
  violent: boolean;
  score: number;
}

export interface LiveFrameMessage {
  type: "frame";
  camera_id: string;
  frame_index: number;
  captured_at: string;
  width: number;
  height: number;
  jpeg_b64: string;
  overlay: OverlayBox[];
}

export interface LiveStatusMessage {
  type: "status";
  status: CameraStatus;
  error_reason: string | null;
}

export type LiveMessage = LiveFrameMessage | LiveStatusMessage;
