// SPADV and baselines (issue 5). Depends on @splitfleet/splitcore only.
export {};
