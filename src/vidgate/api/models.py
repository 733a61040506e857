"""`/v1/models`: the catalog as OpenAI-style model objects."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vidgate.api import schemas
from vidgate.api.auth import CurrentKey
from vidgate.api.errors import error_responses
from vidgate.catalog import Catalog, ModelEntry

router = APIRouter(prefix="/v1")


def _model(name: str, entry: ModelEntry) -> schemas.ModelObject:
    return schemas.ModelObject(
        id=name, sizes=entry.size_names, seconds=list(entry.seconds), description=entry.description
    )


@router.get(
    "/models",
    response_model=schemas.ModelList,
    responses=error_responses(401),
    summary="List models",
)
async def list_models(request: Request, key: CurrentKey) -> schemas.ModelList:
    """Every model name this server accepts, with the sizes and durations it delivers."""
    catalog: Catalog = request.app.state.catalog
    return schemas.ModelList(data=[_model(e.name, e) for e in catalog.entries])


@router.get(
    "/models/{model}",
    response_model=schemas.ModelObject,
    responses=error_responses(401, 404),
    summary="Retrieve a model",
)
async def retrieve_model(request: Request, key: CurrentKey, model: str) -> schemas.ModelObject:
    catalog: Catalog = request.app.state.catalog
    return _model(model, catalog.get(model))
