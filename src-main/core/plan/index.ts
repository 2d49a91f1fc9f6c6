// Public surface of compression plans.
export * from './plan'
