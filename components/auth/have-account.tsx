import { Link } from "@/i18n/navigation";

/** "Already have an account? Sign in" under the register form and the closed-registration notice. */
export function HaveAccount({ text, signIn }: { text: string; signIn: string }) {
  return (
    <p className="mt-4 text-center text-sm text-slate-600">
      {text}{" "}
      <Link href="/sign-in" className="font-medium text-blue-700 underline">
        {signIn}
      </Link>
    </p>
  );
}
