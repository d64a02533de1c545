// Package esi parses and assembles Edge Side Includes (the subset of ESI
// Language 1.0 that page caches use): <esi:include src alt onerror/>,
// <esi:remove>, <esi:comment/> and <!--esi ... -->.
//
// It owns the ESI grammar and the assembly rules; it does no HTTP itself.
// The caller supplies a Fetcher (one method, declared here) that resolves
// and fetches one include; the gateway's implementation sends it through
// its own cache, so each fragment keeps its own key, TTL, Vary and tags.
//
//   - parse.go: Parse and the streaming Parser (chunks in, nodes out; a
//     tag split across chunks is held back, never cut in two).
//   - assemble.go: Assembler: includes fetched in parallel, each with its
//     own timeout, alt then onerror="continue" then an error; nested
//     documents up to a depth limit; the combined ETag and fragment counts.
//
// Why hand-written: the Go ESI packages found (darkweak/go-esi, the one
// Souin uses, and nussjustin/esi) either fetch includes over HTTP
// themselves, with regular expressions and package-level state, or return
// only the included bytes. cachegate needs each include to go through its
// cache lookup and to report whether it hit, whether it was private and
// its validator, and needs a hard bound on the bytes a tag may buffer. The
// subset is small (about 300 lines), so it is kept here rather than
// adapted around a library.
//
// Deliberately not supported: esi:try, esi:choose, esi:vars and ESI
// variables. An unsupported esi: element is a syntax error rather than
// markup passed on to the browser, so a page that relies on one fails
// visibly (the gateway answers 502) instead of rendering raw ESI.
package esi
