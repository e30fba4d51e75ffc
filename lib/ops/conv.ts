// F ops: conv (filled in by the ops work of issue 3).
export {};
