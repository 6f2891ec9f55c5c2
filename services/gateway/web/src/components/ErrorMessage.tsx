interface ErrorMessageProps {
  message: string | null | undefined;
  testId?: string;
}

export function ErrorMessage({ message, testId = "error-message" }: ErrorMessageProps) {
  if (!message) return null;
  return (
    <p className="error" role="alert" data-testid={testId}>
      {message}
    </p>
  );
}
