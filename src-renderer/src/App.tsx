export function App() {
  return (
    <main>
      <h1>ShardPress</h1>
    </main>
  )
}
