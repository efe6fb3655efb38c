/** A short error under a row control (announced as an alert); nothing without a message. */
export function InlineError({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <span role="alert" className="mt-1 text-xs text-red-700">
      {message}
    </span>
  );
}
