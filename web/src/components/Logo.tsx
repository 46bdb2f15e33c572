// The Crontopus octopus: a domed head and six circuit-trace tentacles ending in round pads, as on
// a printed circuit board. Drawn inline so its colours follow the console's theme (--accent for
// the head, --logo-trace for the traces); web/public/logo.svg, the favicon, draws the same paths.

/** The head with its two eyes cut out (even-odd fill). */
export const HEAD = "M16 34V26a16 16 0 0 1 32 0v8z M21.5 25a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0z M35.5 25a3.5 3.5 0 1 0 7 0a3.5 3.5 0 1 0-7 0z";

/** Each tentacle: a trace with 45° bends, and the centre of the pad it ends in. */
export const TENTACLES: { trace: string; pad: [number, number] }[] = [
  { trace: "M17 34v4L7 48v2.5", pad: [7, 53] },
  { trace: "M23 34v10l-7 7v4.5", pad: [16, 58] },
  { trace: "M29 34v12l-3 3v3.5", pad: [26, 55] },
  { trace: "M35 34v12l3 3v3.5", pad: [38, 55] },
  { trace: "M41 34v10l7 7v4.5", pad: [48, 58] },
  { trace: "M47 34v4l10 10v2.5", pad: [57, 53] },
];

export function Logo({ size = 24, className = "logo" }: { size?: number; className?: string }) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <path className="logo-head" d={HEAD} fillRule="evenodd" />
      <g className="logo-traces" fill="none" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round">
        {TENTACLES.map(({ trace, pad }) => (
          <g key={trace}>
            <path d={trace} />
            <circle cx={pad[0]} cy={pad[1]} r="2.5" strokeWidth="2" />
          </g>
        ))}
      </g>
    </svg>
  );
}
