// The two functions of jstat (https://github.com/jstat/jstat) that src/compare uses; the package ships no types.
// It is CommonJS: from an ES module, its exports object is the default import.
declare module 'jstat' {
  const jstat: {
    jStat: {
      studentt: {
        /** P(T ≤ x) for Student's t with `dof` degrees of freedom. */
        cdf(x: number, dof: number): number;
        /** The x with P(T ≤ x) = p. */
        inv(p: number, dof: number): number;
      };
    };
  };
  export default jstat;
}
