// optim: SGD and the poly learning-rate schedule (issue 3).
export {};
