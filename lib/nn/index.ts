// nn: Module, Parameter and layers (issue 3).
export {};
