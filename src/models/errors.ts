// The error a model registration reports: a problem with the model or the request, with the HTTP
// status it maps to. Shared by the API-side orchestration (register.ts) and the validation child
// process (inspect.ts), which sends it back over IPC as { status, message, field }.
export type UploadStatus = 400 | 409 | 413 | 422 | 503;

export class ModelUploadError extends Error {
  override name = "ModelUploadError";
  constructor(
    readonly status: UploadStatus,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
