import React from 'react';

import { NbwardenApiError } from './api';

/** A message safe to show: the gateway's own for API errors, a generic one otherwise. */
export function errorMessage(error: unknown): string {
  if (error instanceof NbwardenApiError) {
    return error.message;
  }
  return 'Something went wrong in the nbwarden panel; the browser console has details.';
}

export function ErrorNote(props: { message: string }): JSX.Element | null {
  if (props.message === '') {
    return null;
  }
  return (
    <p className="nbw-error" role="alert">
      {props.message}
    </p>
  );
}
