import { RestError } from '@azure/storage-blob';

/** Whether a Storage failure is one of these HTTP statuses (404 absent, 409/412 already there, …). */
export function isStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestError && statuses.includes(error.statusCode ?? 0);
}
